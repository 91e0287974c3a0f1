"""Account erasure, booking's part: a patient's future appointments are cancelled through
`appointment_cancel`, like any other cancellation.

Why an event: erasure starts in `privacy.rights.account_erase` (the patients app owns the people on an
account), and patients sits below booking in the layering, so it cannot call booking's services. It
emits `patient.erasing` for each patient before anonymizing or deleting them; this handler, listed in
`settings.CRENEAU_EVENT_HANDLERS`, runs synchronously in the erasure's transaction and cancels each future
booking through `appointment_cancel`: the cancel audit row (by the account holder), the patient's
cancellation message, the withdrawn reminders, the freed slot offered to the waiting list and the
availability refresh all happen exactly as for a cancellation from the account page. A failed
cancellation fails (rolls back) the erasure; and the erasure refuses to finish if a future booking is
left (a missing handler cannot silently skip this step)."""

from __future__ import annotations

import uuid

from creneau.core import clock
from creneau.core.actors import Actor

from .models import Appointment, Status
from .services import appointment_cancel, hold_release


def future_bookings(patient_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        Appointment.objects.filter(patient_id=patient_id, status=Status.BOOKED, start_at__gt=clock.now())
        .order_by("start_at")
        .values_list("pk", flat=True)
    )


def on_patient_erasing(*, actor: Actor, patient_id: uuid.UUID) -> None:
    """Cancel the patient's future bookings, the practitioner's online deadline notwithstanding."""
    for appointment_id in future_bookings(patient_id):
        appointment_cancel(actor=actor, appointment_id=appointment_id, erasure=True)


def account_holds(actor: Actor) -> list[uuid.UUID]:
    """The slots the account still holds (a booking started but not confirmed)."""
    return list(Appointment.objects.filter(actor_key=actor.key, status=Status.HELD).values_list("pk", flat=True))


def on_account_erasing(*, actor: Actor) -> None:
    """Release every slot the erased account holds through `hold_release` (audited; the slots are
    bookable again at once instead of when the hold would have expired)."""
    for hold_id in account_holds(actor):
        hold_release(actor=actor, hold_id=hold_id)
