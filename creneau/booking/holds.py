"""Holding a slot while the patient fills the booking form, extending or releasing the hold, and
confirming it into an appointment."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from creneau.audit.models import Action
from creneau.core import clock, metrics, ratelimit
from creneau.core.actors import Actor
from creneau.core.errors import Conflict, InvalidInput, PolicyViolation
from creneau.core.events import emit
from creneau.directory.models import Site
from creneau.patients.selectors import access_patient
from creneau.scheduling.models import Motif
from creneau.scheduling.services import schedule_availability_refresh

from . import events
from .book import appointment_book
from .changes import appointment_cancel
from .models import Appointment, Status
from .policies import _answers, _check_audience, _check_future_appointments_cap, _check_not_blocked, _check_spacing
from .rows import SlotRef, _audit, _idempotency_hash, _insert, _new_row, _resolve_slot, _serialize_account
from .selectors import access_appointment, access_hold


def slot_check(*, actor: Actor, slot: SlotRef) -> tuple[Motif, Site]:
    """Read only: is `slot` a real slot this actor may book now (visit reason, site, grid, absences,
    notice, horizon, not taken)? Raises exactly as `slot_hold` would and writes nothing: the booking
    start page asks before anyone signs in, so a refusal never comes after account creation."""
    motif, site, _end = _resolve_slot(actor, slot, free=True)
    return motif, site


@metrics.booking_operation("hold")
def slot_hold(*, actor: Actor, slot: SlotRef) -> Appointment:
    """Hold a slot for a few minutes while the patient signs in and fills the form."""
    ratelimit.enforce("hold-actor", actor.key)  # holds per hour: no sweeping the agenda hold by hold
    motif, site, end = _resolve_slot(actor, slot, free=True)
    now = clock.now()

    def within_hold_cap() -> None:
        """Counted under the account's lock, in the inserting transaction: simultaneous holds queue."""
        _serialize_account(actor)
        active = Appointment.objects.filter(actor_key=actor.key, status=Status.HELD, hold_expires_at__gt=now).count()
        if active >= settings.CRENEAU_MAX_ACTIVE_HOLDS:
            raise PolicyViolation(
                _("You are already holding other slots. Finish or release them first."), code="too-many-holds"
            )

    hold = _new_row(
        actor,
        motif,
        site,
        slot.start.astimezone(dt.UTC),
        end,
        status=Status.HELD,
        hold_expires_at=now + dt.timedelta(minutes=settings.CRENEAU_HOLD_MINUTES),
    )
    return _insert(actor, hold, guard=within_hold_cap)


@transaction.atomic
def hold_release(*, actor: Actor, hold_id: uuid.UUID | str) -> None:
    """Give back a slot the actor holds: the row goes (the slot is free at once) and the release is
    audited in the same transaction. A hold already confirmed, expired away or released is left alone."""
    hold = access_hold(actor, hold_id)
    if hold.status == Status.HELD and Appointment.objects.filter(pk=hold.pk, status=Status.HELD).delete()[0]:
        _audit(actor, Action.DELETE, hold)
        schedule_availability_refresh(hold.practitioner_id)


def hold_extend(*, actor: Actor, hold_id: uuid.UUID | str, until: dt.datetime) -> None:
    """Keep the actor's hold until `until` (a waiting-list offer outlives the booking form's hold), audited
    in the same transaction. A hold no longer held is left alone."""
    hold = access_hold(actor, hold_id)
    with transaction.atomic():
        if Appointment.objects.filter(pk=hold.pk, status=Status.HELD).update(
            hold_expires_at=until, updated_at=clock.now()
        ):
            _audit(actor, Action.UPDATE, hold)


@metrics.booking_operation("book")
def hold_confirm(
    *,
    actor: Actor,
    hold_id: uuid.UUID | str,
    patient_id: uuid.UUID | str,
    idempotency_key: str | None = None,
    replacing: uuid.UUID | str | None = None,
    answers: Mapping[str, str] | None = None,
) -> Appointment:
    """Turn the actor's hold into a booking for `patient_id`, with the answers to the visit reason's
    questions (question id → text). If the hold expired meanwhile, the slot is booked anyway when still
    free.

    `replacing`: an earlier appointment of the same person that the spacing rule puts in the way
    (`SpacingRefused.earlier_id`), which the patient chose to give up for this one. It is cancelled
    (`appointment_cancel`: its deadline, its audit row, its message) in the same transaction as the
    confirmation: either both happen or neither (an expired hold is then a conflict, not a new booking
    after the cancellation)."""
    hold = access_hold(actor, hold_id)
    patient = access_patient(actor, patient_id)
    if hold.status == Status.BOOKED and hold.patient_id == patient.pk:
        return hold  # the same confirmation, retried
    if hold.status != Status.HELD:
        raise Conflict(_("This hold is no longer valid."))
    _check_audience(actor, hold.motif, patient, start=hold.start_at, site=hold.site)
    stored = _answers(actor, hold.motif, answers)
    _check_not_blocked(actor, patient.pk, hold.organization_id)
    now = clock.now()
    key = _idempotency_hash(actor, idempotency_key)
    with transaction.atomic():
        _check_future_appointments_cap(actor)  # under the account's lock, with the UPDATE
        if replacing is not None:
            earlier = access_appointment(actor, replacing)
            if earlier.patient_id != patient.pk or earlier.status != Status.BOOKED:
                raise InvalidInput(_("Only a booked appointment of the same person can be replaced."))
            appointment_cancel(actor=actor, appointment_id=earlier.pk)
        _check_spacing(
            actor,
            patient_id=patient.pk,
            practitioner_id=hold.practitioner_id,
            site=hold.site,
            start=hold.start_at,
            exclude=hold.pk,
        )
        updated = Appointment.objects.filter(pk=hold.pk, status=Status.HELD, hold_expires_at__gt=now).update(
            status=Status.BOOKED,
            patient=patient,
            hold_expires_at=None,
            booked_at=now,
            idempotency_key=key,
            updated_at=now,
            answers=Appointment._meta.get_field("answers").seal_for(hold, stored),
        )
        if updated:
            hold.patient_id = patient.pk
            _audit(actor, Action.CREATE, hold)
            emit(events.APPOINTMENT_BOOKED, appointment_id=hold.pk, actor=actor)
            schedule_availability_refresh(hold.practitioner_id)
        elif replacing is not None:
            raise Conflict(_("This time was not kept for you any longer: your earlier appointment is unchanged."))
    if updated:
        hold.refresh_from_db()
        return hold
    ref = SlotRef(hold.practitioner_id, hold.motif_id, hold.site_id, hold.start_at)
    return appointment_book(
        actor=actor, slot=ref, patient_id=patient.pk, idempotency_key=idempotency_key, answers=answers
    )
