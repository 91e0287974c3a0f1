"""Writes to patient identities."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from creneau.accounts.principals import acting_user
from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record
from creneau.core import clock, ratelimit
from creneau.core.actors import Actor, ActorKind, AgendaRight
from creneau.core.crypto.blind import blind_index
from creneau.core.errors import Conflict, DomainError, InvalidInput, PermissionDenied, PolicyViolation
from creneau.core.events import emit
from creneau.core.suspension import ensure_not_suspended

from . import events
from .models import (
    IDENTITY_FIELDS,
    NOTE_MAX_LENGTH,
    BookingBlock,
    Patient,
    PatientNote,
    PhoneVerification,
    Relationship,
)
from .selectors import access_patient, access_patient_for_organization


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
    account = acting_user(actor)
    if actor.kind != ActorKind.PATIENT or account is None:
        raise PermissionDenied(_("Only a signed-in patient can add people to their account."))
    if relationship not in Relationship.values:
        raise InvalidInput(_("Unknown relationship."))
    patient = _validated(Patient(account=account, relationship=relationship, **_identity(identity)))
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
    old_phone = patient.phone
    for key, value in _identity(identity).items():
        setattr(patient, key, value)
    if patient.phone != old_phone:
        patient.phone_verified_at = None  # a new number is confirmed again before any SMS goes to it
    _validated(patient).save()
    _audit(actor, Action.UPDATE, patient)
    return patient


PHONE_CODE_MINUTES = 10
PHONE_CODE_TRIES = 5


def _code_digest(verification_id: uuid.UUID, code: str) -> str:
    return salted_hmac("creneau.patients.phone-code", f"{verification_id}:{code}", algorithm="sha256").hexdigest()


def _own_self_patient(actor: Actor, patient_id: uuid.UUID | str) -> Patient:
    patient = access_patient(actor, patient_id)
    if actor.kind != ActorKind.PATIENT or patient.account_id != getattr(actor.user, "pk", None):
        raise PermissionDenied(_("Only the account holder can confirm their phone number."))
    if patient.relationship != Relationship.SELF:
        raise PermissionDenied(_("Only the account holder can confirm their phone number."))
    return patient


@transaction.atomic
def patient_phone_code_send(*, actor: Actor, patient_id: uuid.UUID | str) -> PhoneVerification:
    """Send a 6-digit code by SMS to the account holder's number (through the outbox, never to the
    account's message list: the code proves possession of the phone). Earlier codes stop working."""
    patient = _own_self_patient(actor, patient_id)
    if not patient.phone:
        raise InvalidInput(_("Add a mobile phone number first."))
    if patient.phone_verified_at is not None:
        raise Conflict(_("This phone number is already confirmed."))
    ratelimit.enforce("phone-code-send", actor.key)
    now = clock.now()
    PhoneVerification.objects.filter(patient=patient, verified_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    code = f"{secrets.randbelow(10**6):06d}"
    verification = PhoneVerification(
        patient=patient,
        phone_digest=blind_index("phone", patient.phone) or "",
        expires_at=now + dt.timedelta(minutes=PHONE_CODE_MINUTES),
    )
    verification.code_digest = _code_digest(verification.pk, code)
    verification.save(force_insert=True)
    emit(
        events.PHONE_CODE_ISSUED,
        phone=patient.phone,
        code=code,
        language=getattr(actor.user, "language", "fr"),
        dedup=str(verification.pk),
    )
    _audit(actor, Action.UPDATE, patient)
    return verification


def patient_phone_confirm(*, actor: Actor, patient_id: uuid.UUID | str, code: str) -> Patient:
    """Check a code sent by `patient_phone_code_send`: right and in time, the number is confirmed; a
    wrong code counts one try (5, then the code is locked and a new one must be asked for)."""
    patient = _own_self_patient(actor, patient_id)
    typed = "".join(ch for ch in (code or "") if ch.isdigit())
    with transaction.atomic():
        now = clock.now()
        verification = (
            PhoneVerification.objects.select_for_update()
            .filter(patient=patient, verified_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        if verification is None or verification.phone_digest != (blind_index("phone", patient.phone) or ""):
            raise InvalidInput(_("Ask for a code first."))
        if verification.expires_at <= now:
            raise InvalidInput(_("This code has expired. Ask for a new one."))
        if verification.attempts >= PHONE_CODE_TRIES:
            raise PolicyViolation(_("Too many wrong codes. Ask for a new code."))
        if len(typed) != 6 or not constant_time_compare(verification.code_digest, _code_digest(verification.pk, typed)):
            verification.attempts += 1
            verification.save(update_fields=["attempts", "updated_at"])
            left = PHONE_CODE_TRIES - verification.attempts
            error: DomainError = (
                PolicyViolation(_("Too many wrong codes. Ask for a new code."))
                if left <= 0
                else InvalidInput(
                    ngettext(
                        "This code is not right. %(n)s try left.", "This code is not right. %(n)s tries left.", left
                    )
                    % {"n": left}
                )
            )
        else:
            verification.verified_at = now
            verification.save(update_fields=["verified_at", "updated_at"])
            patient.phone_verified_at = now
            patient.save(update_fields=["phone_verified_at", "updated_at"])
            _audit(actor, Action.UPDATE, patient)
            return patient
    raise error  # after the commit: the wrong try is counted


# --- the practice's patient file: notes and online-booking blocks ----------------------------------


def _file_audit(
    actor: Actor, action: str, object_type: str, object_id: uuid.UUID, via: str, patient: Patient, org: uuid.UUID
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        via=via,
        touched=[Touched(patient_id=patient.pk, organization_id=org)],
    )


@transaction.atomic
def patient_note_add(
    *, actor: Actor, patient_id: uuid.UUID | str, organization_id: uuid.UUID, text: str
) -> PatientNote:
    """A note on a patient known to the organization, for that organization's staff only (encrypted
    at rest, audited). A patient the organization does not know is a NotFound like a made-up id."""
    ensure_not_suspended(actor)
    patient = access_patient_for_organization(actor, patient_id, organization_id=organization_id)
    text = (text or "").strip()
    if not text:
        raise InvalidInput(_("Write the note first."))
    if len(text) > NOTE_MAX_LENGTH:
        raise InvalidInput(_("A note has at most %(n)d characters.") % {"n": NOTE_MAX_LENGTH})
    if "\x00" in text:
        raise InvalidInput(_("The note contains characters that are not allowed."))
    note = PatientNote(patient=patient, organization_id=organization_id, author=acting_user(actor), text=text)
    note.save(force_insert=True)
    _file_audit(actor, Action.CREATE, "patient_note", note.pk, "patient_note_add", patient, organization_id)
    return note


def may_block_online_booking(actor: Actor, organization_id: uuid.UUID) -> bool:
    """Organization admins, and staff who may book in one of the organization's agendas."""
    if actor.kind != ActorKind.STAFF or organization_id not in actor.organization_ids:
        return False
    if actor.is_org_admin(organization_id):
        return True
    return any(a.organization_id == organization_id and AgendaRight.BOOK in a.rights for a in actor.agendas)


BLOCK_REASON_MAX = 500


@transaction.atomic
def patient_booking_block(
    *, actor: Actor, patient_id: uuid.UUID | str, organization_id: uuid.UUID, reason: str = ""
) -> BookingBlock:
    """Stop a patient (who keeps missing appointments) from booking with this organization online; the
    practice can still book for them. The patient is told by message (event `patient.booking_blocked`,
    queued in this transaction)."""
    ensure_not_suspended(actor)
    patient = access_patient_for_organization(actor, patient_id, organization_id=organization_id)
    if not may_block_online_booking(actor, organization_id):
        raise PermissionDenied(_("Blocking online booking needs the right to book in one of the practice's agendas."))
    reason = (reason or "").strip()
    if len(reason) > BLOCK_REASON_MAX:
        raise InvalidInput(_("The reason has at most %(n)d characters.") % {"n": BLOCK_REASON_MAX})
    if "\x00" in reason:
        raise InvalidInput(_("The reason contains characters that are not allowed."))
    block = BookingBlock(patient=patient, organization_id=organization_id, blocked_by=acting_user(actor), reason=reason)
    try:
        with transaction.atomic():
            block.save(force_insert=True)
    except IntegrityError as exc:
        raise Conflict(_("Online booking is already blocked for this patient.")) from exc
    _file_audit(actor, Action.UPDATE, "booking_block", block.pk, "patient_booking_block", patient, organization_id)
    emit(events.BOOKING_BLOCKED, patient_id=patient.pk, organization_id=organization_id, block_id=block.pk)
    return block


@transaction.atomic
def patient_booking_unblock(*, actor: Actor, patient_id: uuid.UUID | str, organization_id: uuid.UUID) -> BookingBlock:
    """Let the patient book online with this organization again (they are told)."""
    ensure_not_suspended(actor)
    patient = access_patient_for_organization(actor, patient_id, organization_id=organization_id)
    if not may_block_online_booking(actor, organization_id):
        raise PermissionDenied(_("Blocking online booking needs the right to book in one of the practice's agendas."))
    block = (
        BookingBlock.objects.select_for_update()
        .filter(patient=patient, organization_id=organization_id, lifted_at__isnull=True)
        .first()
    )
    if block is None:
        raise Conflict(_("Online booking is not blocked for this patient."))
    block.lifted_at = clock.now()
    block.lifted_by = acting_user(actor)
    block.save(update_fields=["lifted_at", "lifted_by", "updated_at"])
    _file_audit(actor, Action.UPDATE, "booking_block", block.pk, "patient_booking_unblock", patient, organization_id)
    emit(events.BOOKING_UNBLOCKED, patient_id=patient.pk, organization_id=organization_id, block_id=block.pk)
    return block
