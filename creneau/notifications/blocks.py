"""Messages about a practice blocking online booking for a patient (handlers of the patients app's
`patient.booking_blocked` / `patient.booking_unblocked` events, queued in the emitter's transaction).

The message names the practice and says how to book instead (by phone); it never repeats the reason
staff typed, which is for the practice's own file."""

from __future__ import annotations

import uuid

from creneau.core import clock
from creneau.directory.models import Organization
from creneau.patients.models import Patient

from . import outbox
from .models import Kind, MessageChannel
from .services import recipient_for_patient


def _tell(kind: Kind, *, patient_id: uuid.UUID, organization_id: uuid.UUID, block_id: uuid.UUID) -> None:
    patient = Patient.objects.select_related("account").get(pk=patient_id)
    organization = Organization.objects.get(pk=organization_id)
    recipient = recipient_for_patient(patient)
    if not (recipient.email or recipient.user_id):
        return  # no address and no account: the practice tells them when they call
    outbox.queue(
        kind=kind,
        recipient=recipient,
        context={"who": patient.given_name, "organization": organization.name, "when": clock.now()},
        dedup=f"{kind}:{block_id}",
        channels=[MessageChannel.EMAIL],
    )


def on_booking_blocked(*, patient_id: uuid.UUID, organization_id: uuid.UUID, block_id: uuid.UUID) -> None:
    _tell(Kind.BOOKING_BLOCKED, patient_id=patient_id, organization_id=organization_id, block_id=block_id)


def on_booking_unblocked(*, patient_id: uuid.UUID, organization_id: uuid.UUID, block_id: uuid.UUID) -> None:
    _tell(Kind.BOOKING_UNBLOCKED, patient_id=patient_id, organization_id=organization_id, block_id=block_id)
