"""Staff-only booking writes: a forced booking outside the opening hours, and an absence saved over
booked patients (cancelling them in the same transaction)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import transaction
from django.utils.translation import gettext as _

from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record
from creneau.core import clock, metrics
from creneau.core.actors import Actor, ActorKind, AgendaRight
from creneau.core.errors import InvalidInput, NotFound, PermissionDenied, PolicyViolation
from creneau.core.events import emit
from creneau.core.ids import parse_id
from creneau.patients.selectors import access_patient
from creneau.scheduling import selectors as slots
from creneau.scheduling.models import Absence
from creneau.scheduling.services import absence_create

from . import events
from .changes import appointment_cancel
from .models import Appointment, Status
from .rows import SlotRef, _insert, _new_row
from .selectors import booked_between

FORCE_REASON_MAX = 200


@metrics.booking_operation("book")
def appointment_force(*, actor: Actor, slot: SlotRef, patient_id: uuid.UUID | str, reason: str) -> Appointment:
    """Book on purpose on top of another appointment or outside opening hours (an urgent case). Staff
    with the right to force bookings on this agenda only (`AgendaRight.FORCE`, granted by the
    organization's admins; a practitioner on their own agenda and admins hold it); the reason is
    required and kept in the audit trail. The row is marked forced: the no-overlap rule leaves it out,
    the slot engine still counts its time as taken, so patients never see it as free."""
    if actor.kind != ActorKind.STAFF:
        raise PermissionDenied(_("Only the practice can force a booking."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why this booking is forced."))
    if len(reason) > FORCE_REASON_MAX:
        raise InvalidInput(_("The reason has at most %(n)d characters.") % {"n": FORCE_REASON_MAX})
    if slot.start.tzinfo is None:
        raise InvalidInput(_("The start time must include a time zone."))
    motif, site = slots.slot_place(practitioner_id=slot.practitioner_id, motif_id=slot.motif_id, site_id=slot.site_id)
    rights = actor.agenda_rights(organization_id=site.organization_id, practitioner_id=motif.practitioner_id)
    if AgendaRight.VIEW not in rights:
        raise NotFound(_("This practitioner, visit reason or place does not exist."))
    if AgendaRight.FORCE not in rights:
        raise PermissionDenied(
            _(
                "You may not force a booking in this agenda: it needs the right to force bookings, "
                "given by an administrator."
            )
        )
    start = slot.start.astimezone(dt.UTC)
    if start < clock.now():
        raise PolicyViolation(_("This time has already passed."), code="past")
    pid = parse_id(patient_id)
    end = start + dt.timedelta(minutes=motif.duration_minutes)
    row = _new_row(
        actor,
        motif,
        site,
        start,
        end,
        status=Status.BOOKED,
        patient_id=pid,
        booked_at=clock.now(),
        is_forced=True,
        forced_reason=reason,
    )
    row.practitioner = motif.practitioner

    def then() -> None:
        patient = access_patient(actor, pid, ignoring_appointment=row.pk)
        row.patient = patient
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="appointment",
            object_id=row.pk,
            via="appointment_force",
            changes={"forced": [False, True], "reason": ["", reason]},
            touched=[Touched(row.patient_id, row.pk, row.organization_id)],
        )
        emit(events.APPOINTMENT_BOOKED, appointment_id=row.pk, actor=actor, appointment=row, fresh=True)

    return _insert(actor, row, also=then)


def absence_create_over_appointments(
    *,
    actor: Actor,
    agenda_id: uuid.UUID | str,
    start_at: dt.datetime,
    end_at: dt.datetime,
    label: str = "",
    cancel: bool,
) -> tuple[Absence, list[Appointment]]:
    """Save an absence once staff have seen the booked patients it covers: with `cancel`, each of those
    appointments is cancelled through `appointment_cancel` (the patient is told, with a link to book
    again), all in one transaction with the absence; without it they are kept, for staff to move one by
    one. Returns the absence and the appointments it covered."""
    with transaction.atomic():
        absence = absence_create(actor=actor, agenda_id=agenda_id, start_at=start_at, end_at=end_at, label=label)
        covered = booked_between(actor, absence.agenda, start=start_at, end=end_at)
        if cancel:
            for appointment in covered:
                appointment_cancel(actor=actor, appointment_id=appointment.pk)
    return absence, covered
