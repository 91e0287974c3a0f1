"""Booking a slot at once (no hold first): patients online, staff by phone, API clients."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence

from creneau.audit.services import record_not_found
from creneau.core import clock, metrics
from creneau.core.actors import Actor
from creneau.core.errors import Conflict, NotFound
from creneau.core.events import emit
from creneau.core.ids import parse_id
from creneau.patients.models import Patient
from creneau.patients.selectors import access_patient, record_patient_read

from . import events
from .models import Appointment, Status
from .policies import _answers, _check_audience, _check_future_appointments_cap, _check_not_blocked, _check_spacing
from .rows import SlotRef, _idempotency_hash, _insert, _new_row, _replayed, _resolve_slot, add_identifiers


@metrics.booking_operation("book")
def appointment_book(
    *,
    actor: Actor,
    slot: SlotRef,
    patient_id: uuid.UUID | str,
    idempotency_key: str | None = None,
    answers: Mapping[str, str] | None = None,
    identifiers: Sequence[tuple[str, str]] = (),
) -> Appointment:
    """Book directly (phone, API, or a patient without a hold), with the answers to the visit reason's
    questions (question id → text). `identifiers`: (system, value) pairs a partner system names the
    appointment by, stored in the booking's transaction (one already naming another appointment of the
    organization is a `Conflict`, and nothing is booked)."""
    key = _idempotency_hash(actor, idempotency_key)
    if key is not None and (replayed := _replayed(key, slot, patient_id)) is not None:
        return replayed
    # The slot first: a taker who lost the race stops here, before reading the patient's record.
    try:
        motif, site, end = _resolve_slot(actor, slot, free=True)
    except Conflict:
        # Taken by this very request's first attempt, perhaps, committing meanwhile.
        if key is not None and (replayed := _replayed(key, slot, patient_id)) is not None:
            return replayed
        raise
    try:
        pid = parse_id(patient_id)
    except NotFound:
        access_patient(actor, patient_id)  # records the miss and raises NotFound
        raise
    row = _new_row(
        actor,
        motif,
        site,
        slot.start.astimezone(dt.UTC),
        end,
        status=Status.BOOKED,
        patient_id=pid,
        booked_at=clock.now(),
        idempotency_key=key,
        answers=_answers(actor, motif, answers),
    )
    row.practitioner = motif.practitioner
    read: list[Patient] = []

    def then() -> None:
        """Once the row is in (a lost race stops at the INSERT): read the patient (the read audited
        in this transaction), check the audience, store the confirmation and reminders."""
        # The new row must not make its own patient visible to the actor ("known to the organization").
        patient = access_patient(actor, pid, ignoring_appointment=row.pk)
        read.append(patient)
        _check_audience(actor, motif, patient, start=row.start_at, site=site)  # past visits: not the new row
        _check_not_blocked(actor, patient.pk, site.organization_id)
        _check_spacing(
            actor,
            patient_id=patient.pk,
            practitioner_id=row.practitioner_id,
            site=site,
            start=row.start_at,
            exclude=row.pk,
        )
        row.patient = patient
        add_identifiers(row, identifiers)
        emit(events.APPOINTMENT_BOOKED, appointment_id=row.pk, actor=actor, appointment=row, fresh=True)

    try:
        # The cap is counted under the account's lock before the row, which would count itself.
        return _insert(actor, row, also=then, guard=lambda: _check_future_appointments_cap(actor))
    except NotFound:
        if not read:  # its not-found audit rolled back with the booking
            record_not_found(actor, object_type="patient", via="access_patient")
        raise
    except Exception:
        if read:  # the record was read, then the booking rolled back with the audit of that read
            record_patient_read(actor, read[-1])
        raise
