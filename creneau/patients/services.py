"""Writes to patient identities."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind
from creneau.core.errors import Conflict, InvalidInput, PermissionDenied
from creneau.core.suspension import ensure_not_suspended

from .models import IDENTITY_FIELDS, Patient, Relationship
from .selectors import access_patient


def _audit(actor: Actor, action: str, patient: Patient) -> None:
    org = patient.created_by_organization_id
    audit_record(
        actor=actor,
        action=action,
        object_type="patient",
        via="patients",
        touched=[Touched(patient_id=patient.pk, organization_id=org)],
    )


def _validated(patient: Patient) -> Patient:
    try:
        patient.full_clean(exclude=["account", "created_by_organization"])
    except ValidationError as exc:
        # Field names and generic messages only: never echo the submitted values.
        raise InvalidInput("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
    if patient.birth_date and patient.birth_date > clock.now().date():
        raise InvalidInput(_("The date of birth cannot be in the future."))
    if patient.birth_date and patient.birth_date < dt.date(1900, 1, 1):
        raise InvalidInput(_("Please check the date of birth."))
    return patient


def _identity(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(IDENTITY_FIELDS)
    if unknown:
        raise InvalidInput(_("Unknown fields: %s") % ", ".join(sorted(unknown)))
    return fields


@transaction.atomic
def patient_create_for_account(*, actor: Actor, relationship: str = Relationship.SELF, **identity: Any) -> Patient:
    """The account holder's own record, or a relative they manage."""
    ensure_not_suspended(actor)
    if actor.kind != ActorKind.PATIENT or actor.user is None:
        raise PermissionDenied(_("Only a signed-in patient can add people to their account."))
    if relationship not in Relationship.values:
        raise InvalidInput(_("Unknown relationship."))
    patient = _validated(Patient(account=actor.user, relationship=relationship, **_identity(identity)))
    try:
        with transaction.atomic():
            patient.save(force_insert=True)
    except IntegrityError as exc:
        raise Conflict(_("Your own details are already on this account.")) from exc
    _audit(actor, Action.CREATE, patient)
    return patient


@transaction.atomic
def patient_create_for_organization(*, actor: Actor, organization_id: uuid.UUID, **identity: Any) -> Patient:
    """A patient created by a practice (phone booking): visible to that organization only."""
    ensure_not_suspended(actor)
    if not actor.can_act_for_organization(organization_id):
        raise PermissionDenied(_("You cannot add patients to this organization."))
    patient = _validated(
        Patient(created_by_organization_id=organization_id, relationship=Relationship.SELF, **_identity(identity))
    )
    patient.save(force_insert=True)
    _audit(actor, Action.CREATE, patient)
    return patient


@transaction.atomic
def patient_update(*, actor: Actor, patient_id: uuid.UUID | str, **identity: Any) -> Patient:
    patient = access_patient(actor, patient_id)
    for key, value in _identity(identity).items():
        setattr(patient, key, value)
    _validated(patient).save()
    _audit(actor, Action.UPDATE, patient)
    return patient
