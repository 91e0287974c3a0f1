"""Reading the audit trail for the people it is about: the access journal of a patient's account."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from creneau.audit.models import AuditAccess, AuditEvent
from creneau.core.actors import Actor
from creneau.directory.models import Organization
from creneau.patients.models import Patient
from creneau.patients.selectors import patients_visible_to


@dataclasses.dataclass(frozen=True)
class JournalEntry:
    at: dt.datetime
    patient: Patient
    who: str  # "you", "staff", "api_client", "patient", "system"
    role: str
    organization: str
    action: str
    channel: str


def access_journal(actor: Actor, *, limit: int = 200) -> list[JournalEntry]:
    """Who else accessed the data of this account's patients (holder and relatives), newest first, like
    the access history of France's shared medical record. The account's own accesses are left out."""
    patients = {p.pk: p for p in patients_visible_to(actor)}
    if not patients:
        return []
    rows = list(
        AuditAccess.objects.filter(patient_id__in=list(patients))
        .exclude(principal=actor.key)
        .order_by("-at", "-id")
        .values_list("event_id", "patient_id", "organization_id")[:limit]
    )
    events = {e.pk: e for e in AuditEvent.objects.filter(pk__in={r[0] for r in rows})}
    org_ids: set[uuid.UUID] = {r[2] for r in rows if r[2]}
    orgs = dict(Organization.objects.filter(pk__in=org_ids).values_list("pk", "name"))
    out = []
    for event_id, patient_id, org_id in rows:
        if patient_id is None:
            continue
        e = events[event_id]
        who = "you" if actor.user is not None and e.principal == actor.key else e.actor_kind
        out.append(
            JournalEntry(
                e.at,
                patients[patient_id],
                who,
                e.actor_role,
                orgs.get(org_id, "") if org_id else "",
                e.action,
                e.channel,
            )
        )
    return out
