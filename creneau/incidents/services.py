"""Incident response: open, compute the exact scope from the audit trail, draft the GDPR notices."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from creneau.audit.models import Action, AuditAccess, AuditEvent, Outcome
from creneau.audit.services import audit_record, changes_between
from creneau.core import clock
from creneau.core.actors import Actor
from creneau.core.errors import InvalidInput, PermissionDenied

from .models import Incident, IncidentExposure, IncidentStatus
from .selectors import access_incident, handles_incidents

if TYPE_CHECKING:
    from creneau.audit.models import DetectionAlert

# What reading a record of each type exposes (the categories of Art. 33(3)(a)).
CATEGORIES = {
    "appointment": ["identity", "contact", "appointment date", "practitioner and specialty"],
    "patient": ["identity", "date of birth", "contact", "postal address"],
}


@dataclasses.dataclass
class Scope:
    principal: str
    start: dt.datetime
    end: dt.datetime
    patients: set[uuid.UUID]
    appointments: set[uuid.UUID]
    organizations: set[uuid.UUID]
    categories: dict[uuid.UUID, set[str]]
    events: int
    # Events in the window that the application did not write (audit_verify reports them as forged):
    # left out of the scope, counted here.
    forged: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "events": self.events,
            "forged_events_left_out": self.forged,
            "patients": sorted(str(p) for p in self.patients),
            "appointments": sorted(str(a) for a in self.appointments),
            "organizations": sorted(str(o) for o in self.organizations),
            "counts": {
                "patients": len(self.patients),
                "appointments": len(self.appointments),
                "organizations": len(self.organizations),
            },
            "categories": sorted({c for cs in self.categories.values() for c in cs}),
        }


def incident_scope(*, principal: str, start: dt.datetime, end: dt.datetime) -> Scope:
    """Exactly the records the principal received in [start, end), from the audit trail. Events inserted
    by anyone but the application (no valid write MAC, or another database role) are left out: a forged
    read must not put a record in a breach's scope."""
    from creneau.audit.verify import forged_event_ids

    events = AuditEvent.objects.filter(principal=principal, at__gte=start, at__lt=end, outcome=Outcome.OK)
    types = dict(events.values_list("pk", "object_type"))
    forged = forged_event_ids(types)
    for pk in forged:
        del types[pk]
    patients: set[uuid.UUID] = set()
    appointments: set[uuid.UUID] = set()
    organizations: set[uuid.UUID] = set()
    categories: dict[uuid.UUID, set[str]] = defaultdict(set)
    rows = AuditAccess.objects.filter(event_id__in=list(types)).values_list(
        "event_id", "patient_id", "appointment_id", "organization_id"
    )
    for event_id, patient_id, appointment_id, organization_id in rows:
        if appointment_id:
            appointments.add(appointment_id)
        if organization_id:
            organizations.add(organization_id)
        if patient_id:
            patients.add(patient_id)
            categories[patient_id].update(CATEGORIES.get(types[event_id], ["identity"]))
    return Scope(principal, start, end, patients, appointments, organizations, categories, len(types), len(forged))


def _require_handler(actor: Actor) -> None:
    if not handles_incidents(actor):
        raise PermissionDenied(_("Only platform operators can open incidents."))


def _counts(incident: Incident) -> dict[str, Any]:
    return dict(incident.scope.get("counts", {}))


def incident_open(
    *,
    actor: Actor,
    principal: str,
    start: dt.datetime,
    end: dt.datetime,
    summary: str = "",
    opened_by: str | None = None,
) -> Incident:
    """Open an incident and freeze its scope (an operator, or detection through the system actor)."""
    _require_handler(actor)
    if opened_by is None:
        opened_by = "system" if actor.user is None else f"operator:{actor.user.pk}"
    with transaction.atomic():
        incident = Incident.objects.create(
            opened_at=clock.now(),
            opened_by=opened_by,
            principal=principal,
            window_start=start,
            window_end=end,
            summary=summary,
        )
        _refresh(incident)
        audit_record(
            actor=actor,
            action=Action.CREATE,
            object_type="incident",
            object_id=incident.pk,
            via="incident_open",
            changes={
                "principal": [None, principal],
                "opened_by": [None, opened_by],
                "counts": [None, _counts(incident)],
            },
        )
    return incident


def incident_open_for_alert(*, alert: DetectionAlert) -> Incident:
    window = dt.timedelta(minutes=int(str(settings.CRENEAU_DETECTION["window_minutes"])))
    return incident_open(
        actor=Actor.system(),
        principal=alert.principal,
        start=alert.at - 2 * window,
        end=alert.at + window,
        summary=f"detection:{alert.rule}",
        opened_by=f"detection:{alert.rule}",
    )


def on_alert_raised(*, alert: DetectionAlert) -> None:
    """Listener of `audit.alert_raised`: an alert that suspended its principal opens an incident over
    the window around it, in the alert's transaction."""
    if alert.suspended:
        incident_open_for_alert(alert=alert)


def _refresh(incident: Incident) -> Scope:
    scope = incident_scope(principal=incident.principal, start=incident.window_start, end=incident.window_end)
    incident.scope = scope.as_json()
    incident.save(update_fields=["scope", "updated_at"])
    IncidentExposure.objects.filter(incident=incident).delete()
    IncidentExposure.objects.bulk_create(
        [
            IncidentExposure(incident=incident, patient_id=p, categories=sorted(scope.categories[p]))
            for p in scope.patients
        ],
        batch_size=1000,
    )
    return scope


@transaction.atomic
def incident_refresh_scope(*, actor: Actor, incident_id: uuid.UUID | str) -> Scope:
    """Recompute an incident's scope from the audit trail (e.g. after a late audit import)."""
    _require_handler(actor)
    incident = access_incident(actor, incident_id, for_update=True)
    before = _counts(incident)
    scope = _refresh(incident)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="incident",
        object_id=incident.pk,
        via="incident_refresh_scope",
        changes=changes_between({"counts": before}, {"counts": _counts(incident)}),
    )
    return scope


@transaction.atomic
def incident_update(
    *, actor: Actor, incident_id: uuid.UUID | str, status: str | None = None, summary: str | None = None
) -> Incident:
    """An operator moves an incident along (authority notified, closed) or completes its summary."""
    _require_handler(actor)
    incident = access_incident(actor, incident_id, for_update=True)
    before = {"status": incident.status, "summary": incident.summary}
    if status is not None:
        if status not in IncidentStatus.values:
            raise InvalidInput(_("Unknown incident status."))
        incident.status = status
    if summary is not None:
        incident.summary = summary
    after = {"status": incident.status, "summary": incident.summary}
    changes = changes_between(before, after)
    if changes:
        incident.save(update_fields=["status", "summary", "updated_at"])
        if "summary" in changes:
            changes["summary"] = ["…", "…"]  # free text may name people: the trail records that it changed
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="incident",
            object_id=incident.pk,
            via="incident_update",
            changes=changes,
        )
    return incident


def authority_report(incident: Incident) -> str:
    """Draft of the Art. 33 GDPR notification to the supervisory authority (to be completed by the DPO)."""
    s = incident.scope
    counts = s.get("counts", {})
    deadline = incident.opened_at + dt.timedelta(hours=72)
    return "\n".join(
        [
            f"Incident {incident.pk} — draft notification under GDPR Art. 33",
            f"Awareness: {incident.opened_at.isoformat()} — notify before {deadline.isoformat()}",
            f"Nature: access to personal data by principal {incident.principal} "
            f"between {s.get('start')} and {s.get('end')}",
            f"People concerned: {counts.get('patients', 0)}; appointment records: {counts.get('appointments', 0)}; "
            f"organizations: {counts.get('organizations', 0)}",
            f"Data categories: {', '.join(s.get('categories', [])) or 'none'}",
            "Encryption at rest: identity fields are encrypted; the exposure happened through an authenticated "
            "channel, so the data must be considered intelligible to the recipient (Art. 34 notices if high risk).",
            "Measures taken: principal suspended automatically; access revoked; scope computed from the audit trail.",
            f"Contact: {settings.CRENEAU_SECURITY_CONTACT}",
        ]
    )


def incident_notify_patients(*, actor: Actor, incident_id: uuid.UUID | str) -> int:
    """Art. 34 notices: every account holding an exposed patient (themselves or a relative) gets a
    message pointing to its account page, which says what was concerned. Practice-created patients
    without an account are listed for their practice to contact. Returns messages queued."""
    from creneau.notifications.services import notify_incident
    from creneau.patients.models import Patient

    _require_handler(actor)
    with transaction.atomic():
        incident = access_incident(actor, incident_id, for_update=True)
        patient_ids = list(incident.exposures.values_list("patient_id", flat=True))
        accounts = set(
            Patient.objects.filter(pk__in=patient_ids, account__isnull=False).values_list("account_id", flat=True)
        )
        count = notify_incident(actor=Actor.system(), user_ids=accounts, reference=str(incident.pk)[:8])
        incident.patients_notified_at = clock.now()
        incident.save(update_fields=["patients_notified_at", "updated_at"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="incident",
            object_id=incident.pk,
            via="incident_notify_patients",
            changes={"patients_notified_at": [None, incident.patients_notified_at], "messages": count},
        )
    return count
