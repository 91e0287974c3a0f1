"""An organization's audit trail as FHIR R4 AuditEvent resources (a collection Bundle)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from .models import AuditAccess, AuditEvent, Outcome

_SUBTYPE = {
    "read": "read",
    "search": "search-type",
    "create": "create",
    "update": "update",
    "cancel": "update",
    "delete": "delete",
    "export": "search-type",
}
_ACTION = {"read": "R", "search": "E", "create": "C", "update": "U", "cancel": "U", "delete": "D", "export": "E"}


def to_fhir(event: AuditEvent, accesses: list[AuditAccess]) -> dict[str, Any]:
    entities: list[dict[str, Any]] = []
    seen: set[str] = set()
    for a in accesses:
        for rtype, rid in (("Patient", a.patient_id), ("Appointment", a.appointment_id)):
            ref = f"{rtype}/{rid}"
            if rid and ref not in seen:
                seen.add(ref)
                entities.append({"what": {"reference": ref}})
    agent: dict[str, Any] = {
        "who": {"identifier": {"system": "urn:creneau:principal", "value": event.principal}},
        "requestor": True,
        "type": {"text": event.actor_kind},
    }
    if event.actor_role:
        agent["role"] = [{"text": event.actor_role}]
    if event.ip:
        agent["network"] = {"address": event.ip, "type": "2"}
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(event.pk),
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": _SUBTYPE.get(event.action, "read")}],
        "action": _ACTION.get(event.action, "E"),
        "recorded": event.at.isoformat(),
        "outcome": "0" if event.outcome == Outcome.OK else "4",
        "outcomeDesc": event.via or event.outcome,
        "agent": [agent],
        "source": {
            "observer": {"display": "creneau"},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}],
        },
    }
    if entities:
        resource["entity"] = entities
    return resource


def organization_audit_bundle(*, organization_id: uuid.UUID, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Every audited access to this organization's records in [start, end), validated as R4."""
    accesses = AuditAccess.objects.filter(organization_id=organization_id, at__gte=start, at__lt=end).order_by("id")
    by_event: dict[int, list[AuditAccess]] = defaultdict(list)
    for a in accesses:
        by_event[a.event_id].append(a)
    events = AuditEvent.objects.filter(pk__in=list(by_event)).order_by("id")
    entries = [{"fullUrl": f"urn:creneau:audit:{e.pk}", "resource": to_fhir(e, by_event[e.pk])} for e in events]
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection"}
    if entries:  # FHIR forbids empty arrays
        bundle["entry"] = entries
    Bundle.model_validate(bundle)
    return bundle
