"""Who a message goes to: a patient's managing account (or the contact details the practice recorded),
an account. Reads only."""

from __future__ import annotations

from creneau.accounts.models import User
from creneau.patients.models import Patient, Relationship

from . import outbox
from .rendering import language_of


def recipient_for_patient(patient: Patient) -> outbox.Recipient:
    """Messages about a patient go to the account managing them (a parent for a child), else to the
    contact details the practice recorded."""
    user = patient.account
    if user is None:
        return outbox.Recipient(user_id=None, email=patient.email, phone=patient.phone, language="fr")
    # Text messages go only to a number its owner confirmed with a code (patients may type anything).
    phone = patient.phone if patient.relationship == Relationship.SELF and patient.phone_verified_at else ""
    if not phone:
        # Load the row (not values_list): an encrypted field opens only on its own instance.
        holder = Patient.objects.filter(account=user, relationship=Relationship.SELF).first()
        phone = holder.phone if holder is not None and holder.phone_verified_at else ""
    return outbox.Recipient(user_id=user.pk, email=user.email, phone=phone, language=language_of(user.language))


def recipient_for_user(user: User) -> outbox.Recipient:
    return outbox.Recipient(user_id=user.pk, email=user.email, phone="", language=language_of(user.language))
