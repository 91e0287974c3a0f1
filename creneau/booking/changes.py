"""Changing a booked appointment: cancel, reschedule (move), mark arrived, fulfilled or no-show."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import transaction
from django.utils.translation import gettext as _

from creneau.audit.models import Action
from creneau.core import clock, metrics
from creneau.core.actors import Actor, ActorKind, AgendaRight
from creneau.core.errors import Conflict, InvalidInput, PermissionDenied, PolicyViolation
from creneau.core.events import emit
from creneau.scheduling.services import schedule_availability_refresh

from . import events
from .models import Appointment, Status
from .policies import _cancelled_by, _check_not_blocked, _check_patient_deadline, _check_spacing
from .rows import SlotRef, _audit, _insert, _new_row, _resolve_slot, move_identifiers
from .selectors import access_appointment


def appointment_cancel(*, actor: Actor, appointment_id: uuid.UUID | str, erasure: bool = False) -> Appointment:
    """Cancel a booked appointment. Patients must respect the practitioner's deadline, except when
    they erase their account (`erasure`: the right to erasure does not wait; see booking.erasure);
    cancelling twice is harmless."""
    appointment = access_appointment(actor, appointment_id, right=AgendaRight.BOOK)
    if appointment.status == Status.CANCELLED:
        return appointment
    if appointment.status != Status.BOOKED:
        raise PolicyViolation(_("Only a booked appointment can be cancelled."))
    if not erasure:
        _check_patient_deadline(actor, appointment)
    now = clock.now()
    with transaction.atomic():
        updated = Appointment.objects.filter(pk=appointment.pk, status=Status.BOOKED).update(
            status=Status.CANCELLED, cancelled_at=now, cancelled_by=_cancelled_by(actor), updated_at=now
        )
        if updated:
            _audit(actor, Action.CANCEL, appointment)
            emit(events.APPOINTMENT_CANCELLED, appointment_id=appointment.pk, actor=actor)
            schedule_availability_refresh(appointment.practitioner_id)
    appointment.refresh_from_db()
    return appointment


@metrics.booking_operation("reschedule")
def appointment_reschedule(
    *, actor: Actor, appointment_id: uuid.UUID | str, new_start: dt.datetime, site_id: uuid.UUID | str | None = None
) -> Appointment:
    """Move a booking to another slot of the same practitioner and motif, atomically: if the new
    slot is taken, the original appointment is kept untouched."""
    old = access_appointment(actor, appointment_id, right=AgendaRight.BOOK)
    if old.status != Status.BOOKED:
        raise PolicyViolation(_("Only a booked appointment can be moved."), code="not-booked")
    _check_patient_deadline(actor, old)
    if old.patient_id is not None:
        _check_not_blocked(actor, old.patient_id, old.organization_id)
    ref = SlotRef(old.practitioner_id, old.motif_id, site_id or old.site_id, new_start)
    motif, site, end = _resolve_slot(actor, ref)
    now = clock.now()
    with transaction.atomic():
        if not Appointment.objects.filter(pk=old.pk, status=Status.BOOKED).update(
            status=Status.CANCELLED, cancelled_at=now, cancelled_by=_cancelled_by(actor), updated_at=now
        ):
            raise Conflict(_("This appointment changed meanwhile; please reload."))
        _audit(actor, Action.CANCEL, old)
        _check_spacing(
            actor,
            patient_id=old.patient_id,
            practitioner_id=old.practitioner_id,
            site=site,
            start=new_start.astimezone(dt.UTC),
            exclude=old.pk,
        )
        new = _new_row(
            actor,
            motif,
            site,
            new_start.astimezone(dt.UTC),
            end,
            status=Status.BOOKED,
            patient_id=old.patient_id,
            booked_at=now,
            rescheduled_from=old,
            source=old.source,
            answers=old.answers,
        )
        moved = _insert(actor, new)
        move_identifiers(old, moved)
        emit(events.APPOINTMENT_MOVED, old_appointment_id=old.pk, new_appointment_id=moved.pk, actor=actor)
        return moved


def appointment_mark(
    *, actor: Actor, appointment_id: uuid.UUID | str, status: str, excused: bool = False
) -> Appointment:
    """Staff (or the practice's software, an API client acting for the organization) record what
    happened: fulfilled or no-show (`excused` when the patient had a good reason), once the appointment
    has started."""
    if actor.kind not in (ActorKind.STAFF, ActorKind.SYSTEM, ActorKind.API_CLIENT):
        raise PermissionDenied(_("Only the practice can record this."))
    if status not in (Status.FULFILLED, Status.NO_SHOW):
        raise InvalidInput(_("An appointment can be marked fulfilled or no-show."))
    appointment = access_appointment(actor, appointment_id, right=AgendaRight.BOOK)
    if appointment.status not in (Status.BOOKED, Status.FULFILLED, Status.NO_SHOW):
        raise PolicyViolation(_("A cancelled appointment cannot be marked."))
    if appointment.start_at > clock.now():
        raise PolicyViolation(_("An appointment can be marked only once it has started."))
    with transaction.atomic():
        Appointment.objects.filter(pk=appointment.pk).update(
            status=status, no_show_excused=excused and status == Status.NO_SHOW, updated_at=clock.now()
        )
        _audit(actor, Action.UPDATE, appointment)
        if status == Status.NO_SHOW and appointment.status != Status.NO_SHOW:
            emit(events.APPOINTMENT_NO_SHOW, appointment_id=appointment.pk, actor=actor, excused=excused)
    appointment.refresh_from_db()
    return appointment
