"""Account writes: sign-up, e-mail verification, sign-in record, passwords, sign-out everywhere, second
factor, closing an account.

Each is a service in the project's shape: keyword-only, an `actor`, one transaction holding the write and
its audit row (identifiers only: never an e-mail address). Messages to the account holder are not sent
from here: the service emits a domain event (`creneau.core.events`) and the handlers configured in
`CRENEAU_EVENT_HANDLERS` (notifications) queue them in the outbox, inside the same transaction.

Audit rows use the trail's fixed actions; `via` names the service, so "who turned off this second factor"
is `via="mfa_disable"`, object the account's device.

Sign-up and the password-reset request have a constant shape (issue 21): the same work whether or not
the address has an account. Sign-up hashes the password and writes one audit row and one outbox message
in both cases (a new account adds its own row, cheap beside the hash); the reset request does nothing
in the request but reserve a per-address counter and enqueue one task, the lookup and the message happen
in the worker (`tasks.password_reset_send`).

This module is accounts' public write API: sign-up, verification, sign-in records and closing an account
are here; the passwords (`password_services`), the second factor and passkeys (`factor_services`) and the
operators' admin writes (`operator_services`) have their own modules, re-exported here."""

from __future__ import annotations

import uuid

from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from creneau.audit.models import Action, Outcome
from creneau.core.actors import Actor
from creneau.core.events import emit

from . import events, mfa, passkeys
from .auditing import ACCOUNT, audit_account
from .factor_services import (
    mfa_code_check,
    mfa_disable,
    mfa_enable,
    passkey_register,
    passkey_remove,
    passkey_sign_in_record,
    recovery_codes_regenerate,
)
from .models import User
from .operator_services import (
    MEMBERSHIP_FIELDS,
    OPERATOR_FIELDS,
    account_operator_delete,
    account_operator_update,
    membership_operator_delete,
    membership_operator_save,
)
from .password_services import (
    account_sign_out_everywhere,
    password_change,
    password_reset_complete,
    password_reset_request,
)
from .tasks import password_reset_send

__all__ = [
    "ACCOUNT",
    "MEMBERSHIP_FIELDS",
    "OPERATOR_FIELDS",
    "account_close",
    "account_email_verify",
    "account_operator_delete",
    "account_operator_update",
    "account_sign_in_record",
    "account_sign_out",
    "account_sign_out_everywhere",
    "account_signup",
    "membership_operator_delete",
    "membership_operator_save",
    "mfa_code_check",
    "mfa_disable",
    "mfa_enable",
    "normalize_email",
    "passkey_register",
    "passkey_remove",
    "passkey_sign_in_record",
    "password_change",
    "password_reset_complete",
    "password_reset_request",
    "password_reset_send",
    "recovery_codes_regenerate",
]


def normalize_email(email: str) -> str:
    return User.objects.normalize_email(email.strip()).lower()


# --- sign-up and verification ------------------------------------------------------------------------


def account_signup(*, actor: Actor, email: str, password: str, language: str, next_url: str = "") -> None:
    """Create an inactive account and have a verification link sent to it; for an address that already
    has an account, have its owner told of the attempt instead. The caller cannot tell which happened
    (same page), nor can a stopwatch: the password is hashed (the costly part) and an audit row and an
    outbox message written in both branches."""
    email = normalize_email(email)
    encoded = make_password(password)
    with transaction.atomic():
        existing = User.objects.by_email(email).only("pk").first()
        if existing is None:
            try:
                with transaction.atomic():
                    user = User(email=email, password=encoded, is_active=False, language=(language or "fr")[:2])
                    user.save(force_insert=True)
            except IntegrityError:  # the same address signed up at the same instant
                existing = User.objects.by_email(email).only("pk").first()
                if existing is None:
                    raise
        if existing is not None:
            audit_account(actor, Action.CREATE, existing.pk, "account_signup", outcome=Outcome.DENIED)
            emit(events.SIGNUP_EXISTING, user_id=existing.pk)
            return
        audit_account(actor, Action.CREATE, user.pk, "account_signup")
        emit(events.SIGNUP_REQUESTED, user_id=user.pk, next_url=next_url)


def _user_from_uid(uidb64: str) -> User | None:
    try:
        return User.objects.filter(pk=force_str(urlsafe_base64_decode(uidb64))).first()
    except (ValidationError, ValueError, TypeError, OverflowError):
        return None


def account_email_verify(*, actor: Actor, uidb64: str, token: str) -> User | None:
    """Activate the account of a verification link. None (and nothing written) for a forged, expired or
    used link: the token changes when the account signs in, so a link works once."""
    user = _user_from_uid(uidb64)
    if user is None or not default_token_generator.check_token(user, token):
        return None
    with transaction.atomic():
        changes = {}
        if not user.is_active:
            user.is_active = True
            user.save(update_fields=["is_active"])
            changes = {"is_active": [False, True]}
        audit_account(actor, Action.UPDATE, user.pk, "account_email_verify", changes=changes)
    return user


def account_sign_in_record(*, actor: Actor, user: User, new_device: bool) -> None:
    """Record a password sign-in; a browser this account never used gets its owner a message."""
    with transaction.atomic():
        audit_account(actor, Action.SIGN_IN, user.pk, "login", changes={"new_device": new_device})
        if new_device:
            emit(events.NEW_LOGIN, user_id=user.pk)


def account_sign_out(*, actor: Actor, user: User) -> None:
    """Record a sign-out (the caller ends the session)."""
    audit_account(actor, Action.SIGN_OUT, user.pk, "logout")


# --- closing an account ----------------------------------------------------------------------------------


def account_close(*, actor: Actor, user: User) -> None:
    """Scrub the sign-in identity of an erased account: a random address, no usable password, inactive
    (its patients are handled by `privacy.rights.account_erase`)."""
    with transaction.atomic():
        user.email = f"erased-{uuid.uuid4().hex}@erased.invalid"
        user.set_unusable_password()
        user.is_active = False
        user.save()
        mfa.disable(user)
        passkeys.Passkey.objects.filter(user=user).delete()
        audit_account(actor, Action.DELETE, user.pk, "account_erase")
