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
in the worker (`password_reset_send`)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _

from creneau.audit.models import Action, Outcome
from creneau.audit.services import Touched, audit_record, changes_between
from creneau.core import ratelimit
from creneau.core.actors import Actor, ActorKind
from creneau.core.crypto.blind import blind_index
from creneau.core.errors import Conflict, PermissionDenied, PolicyViolation
from creneau.core.events import emit

from . import events, mfa, passkeys
from .models import Membership, User

ACCOUNT = "account"


def _audit(
    actor: Actor,
    action: str,
    object_id: object,
    via: str,
    *,
    object_type: str = ACCOUNT,
    changes: dict[str, Any] | None = None,
    outcome: str = Outcome.OK,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        via=via,
        changes=changes,
        outcome=outcome,
    )


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
            _audit(actor, Action.CREATE, existing.pk, "account_signup", outcome=Outcome.DENIED)
            emit(events.SIGNUP_EXISTING, user_id=existing.pk)
            return
        _audit(actor, Action.CREATE, user.pk, "account_signup")
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
        _audit(actor, Action.UPDATE, user.pk, "account_email_verify", changes=changes)
    return user


def account_sign_in_record(*, actor: Actor, user: User, new_device: bool) -> None:
    """Record a password sign-in; a browser this account never used gets its owner a message."""
    with transaction.atomic():
        _audit(actor, Action.SIGN_IN, user.pk, "login", changes={"new_device": new_device})
        if new_device:
            emit(events.NEW_LOGIN, user_id=user.pk)


def account_sign_out(*, actor: Actor, user: User) -> None:
    """Record a sign-out (the caller ends the session)."""
    _audit(actor, Action.SIGN_OUT, user.pk, "logout")


# --- passwords -----------------------------------------------------------------------------------------


def password_change(*, actor: Actor, user: User, new_password: str) -> None:
    """Set a new password the caller has validated (old password typed again, validators passed)."""
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        _audit(actor, Action.UPDATE, user.pk, "password_change", changes={"password": "changed"})
        emit(events.PASSWORD_CHANGED, user_id=user.pk)


def password_reset_request(*, actor: Actor, email: str) -> bool:
    """Ask for a reset link for `email`. Constant shape: whatever the address, the request only takes
    one per-address counter (a mailbox gets a bounded number of links) and enqueues one task carrying
    the address's blind index (no address in the task table); the worker looks the account up and
    queues the message (`password_reset_send`). Returns whether a task was enqueued."""
    key = email.strip().casefold()
    if not ratelimit.allow(ratelimit.get("password-reset-account"), key):
        return False
    from .tasks import password_reset_dispatch

    password_reset_dispatch.enqueue(email_index=blind_index("email", key) or "", ip=actor.ip or "")
    return True


def password_reset_send(*, actor: Actor, email_index: str) -> bool:
    """The worker's half of a reset request: for an active account with a password, one audit row and
    the reset message (its link is made when the message leaves, see notifications.account). Nothing
    for an unknown address."""
    with transaction.atomic():
        user = User.objects.filter(email_bidx=email_index, is_active=True).first() if email_index else None
        if user is None or not user.has_usable_password():
            return False
        _audit(actor, Action.CREATE, user.pk, "password_reset_request", object_type="password_reset")
        emit(events.PASSWORD_RESET_REQUESTED, user_id=user.pk)
    return True


def password_reset_complete(*, actor: Actor, user: User, new_password: str) -> None:
    """Set the password chosen through a valid reset link (the link's view checked the token)."""
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        _audit(actor, Action.UPDATE, user.pk, "password_reset", changes={"password": "changed"})
        emit(events.PASSWORD_CHANGED, user_id=user.pk)


def account_sign_out_everywhere(*, actor: Actor, user: User, password: str) -> None:
    """End every session of the account: the password is re-hashed with a fresh salt, so every other
    session's auth hash stops matching. The caller checked the password."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        _audit(actor, Action.SIGN_OUT, user.pk, "sign_out_everywhere")


# --- second factor -------------------------------------------------------------------------------------


def mfa_enable(*, actor: Actor, user: User, secret: str, code: str) -> list[str] | None:
    """Confirm an authenticator app with its first code (replacing any previous one) and return new
    recovery codes, shown once. None, and nothing written, when the code does not match."""
    with transaction.atomic():
        replaced = mfa.has_mfa(user)
        codes = mfa.confirm_setup(user=user, secret=secret, code=code)
        if codes is None:
            return None
        device = mfa.MFADevice.objects.only("pk").get(user=user)
        _audit(
            actor,
            Action.CREATE,
            device.pk,
            "mfa_enable",
            object_type="mfa_device",
            changes={"replaced": replaced, "recovery_codes": len(codes)},
        )
        emit(events.MFA_CHANGED, user_id=user.pk)
    return codes


def mfa_disable(*, actor: Actor, user: User) -> None:
    """Turn the authenticator app off (device and recovery codes). Practice and operator accounts must
    keep a second factor (a passkey will do): refused, nothing written."""
    if mfa.mfa_required_for(user) and not passkeys.has_passkey(user):
        raise PolicyViolation(_("Practice and operator accounts must keep a second factor."), code="mfa-required")
    with transaction.atomic():
        device_ids = [str(pk) for pk in mfa.MFADevice.objects.filter(user=user).values_list("pk", flat=True)]
        codes = mfa.RecoveryCode.objects.filter(user=user).count()
        if not device_ids and not codes:
            return
        mfa.disable(user)
        _audit(
            actor,
            Action.DELETE,
            device_ids[0] if device_ids else "",
            "mfa_disable",
            object_type="mfa_device",
            changes={"recovery_codes_deleted": codes},
        )
        emit(events.MFA_CHANGED, user_id=user.pk)


def recovery_codes_regenerate(*, actor: Actor, user: User) -> list[str]:
    """Replace the account's recovery codes (the old ones stop working) and return the new ones."""
    with transaction.atomic():
        codes = mfa.new_recovery_codes(user)
        _audit(
            actor,
            Action.CREATE,
            user.pk,
            "recovery_codes_regenerate",
            object_type="recovery_codes",
            changes={"count": len(codes)},
        )
        emit(events.MFA_CHANGED, user_id=user.pk)
    return codes


def mfa_code_check(*, actor: Actor, user: User, code: str, source: str = "") -> bool:
    """A second-factor code typed by the account holder (TOTP or recovery code), rate limited. A
    recovery code used up is audited (`recovery_code_use`, in `mfa.verify`'s transaction)."""
    return mfa.verify(user, code, source=source, actor=actor)


# --- passkeys (accounts.passkeys) ------------------------------------------------------------------------


def passkey_register(*, actor: Actor, user: User, new: passkeys.NewPasskey, name: str) -> passkeys.Passkey:
    """Store a passkey whose registration the caller verified (`passkeys.verify_registration`) after a
    re-authentication. Audited (`passkey_register`, identifiers and transports only: never the name the
    person typed) and its owner told by e-mail. A credential already registered: refused, nothing written."""
    with transaction.atomic():
        if passkeys.Passkey.objects.filter(credential_id=new.credential_id).exists():
            raise Conflict(_("This passkey is already registered."), code="passkey-exists")
        passkey = passkeys.Passkey.objects.create(
            user=user,
            name=passkeys.clean_name(name),
            credential_id=new.credential_id,
            public_key=new.public_key,
            sign_count=new.sign_count,
            transports=new.transports,
            aaguid=new.aaguid,
            backed_up=new.backed_up,
        )
        _audit(
            actor,
            Action.CREATE,
            passkey.pk,
            "passkey_register",
            object_type="passkey",
            changes={"transports": new.transports, "backed_up": new.backed_up, "aaguid": new.aaguid},
        )
        emit(events.PASSKEY_CHANGED, user_id=user.pk, change="added")
    return passkey


def passkey_remove(*, actor: Actor, user: User, passkey_id: object) -> None:
    """Remove one of the account's passkeys (another account's answers as a missing one). Refused,
    nothing written, when it would leave a practice or operator account without a second factor, or
    a member of an organization that requires passkeys without one. Audited; its owner told."""
    from .selectors import access_passkey

    with transaction.atomic():
        passkey = access_passkey(actor, user, passkey_id, for_update=True)
        others = passkeys.Passkey.objects.filter(user=user).exclude(pk=passkey.pk).exists()
        if not others and passkeys.passkeys_required_for(user):
            raise PolicyViolation(
                _("Your organization requires a passkey: add another one before removing this one."),
                code="passkey-required",
            )
        if not others and not mfa.has_mfa(user) and mfa.mfa_required_for(user):
            raise PolicyViolation(_("Practice and operator accounts must keep a second factor."), code="mfa-required")
        passkey_pk = passkey.pk
        passkey.delete()
        _audit(actor, Action.DELETE, passkey_pk, "passkey_remove", object_type="passkey")
        emit(events.PASSKEY_CHANGED, user_id=user.pk, change="removed")


def passkey_sign_in_record(*, actor: Actor, user: User, passkey: passkeys.Passkey, new_device: bool) -> None:
    """Record a sign-in made with a passkey alone (user verified by the authenticator)."""
    with transaction.atomic():
        _audit(
            actor,
            Action.SIGN_IN,
            user.pk,
            "passkey_sign_in",
            changes={"new_device": new_device, "passkey": str(passkey.pk)},
        )
        if new_device:
            emit(events.NEW_LOGIN, user_id=user.pk)


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
        _audit(actor, Action.DELETE, user.pk, "account_erase")


# --- operators (Django admin) ------------------------------------------------------------------------------

OPERATOR_FIELDS = ("is_active", "is_staff", "language")


def account_operator_update(*, actor: Actor, user: User, values: dict[str, Any]) -> dict[str, list[Any]]:
    """An operator changes an account's status fields in the admin (never its address or password).
    Audited with the fields' before and after; nothing written when nothing changes."""
    unknown = set(values) - set(OPERATOR_FIELDS)
    if unknown:
        raise PolicyViolation(_("These account fields cannot be changed here."), code="field-not-editable")
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=user.pk)
        before = {f: getattr(current, f) for f in values}
        changes = changes_between(before, values)
        if not changes:
            return {}
        for field, value in values.items():
            setattr(user, field, value)
        user.save(update_fields=list(changes))
        _audit(actor, Action.UPDATE, user.pk, "account_operator_update", changes=changes)
    return changes


def account_operator_delete(*, actor: Actor, user: User) -> None:
    """An operator deletes an account in the admin (its memberships, device and messages go with it)."""
    with transaction.atomic():
        user_id = user.pk
        user.delete()
        _audit(actor, Action.DELETE, user_id, "account_operator_delete")


MEMBERSHIP_FIELDS = ("organization_id", "role", "practitioner_id")


def _membership_values(membership: Membership) -> dict[str, Any]:
    return {f: (str(v) if (v := getattr(membership, f)) is not None else None) for f in MEMBERSHIP_FIELDS}


def _require_operator(actor: Actor) -> None:
    if actor.kind != ActorKind.OPERATOR:
        raise PermissionDenied(_("Only platform operators change memberships here."), code="operator-only")


def membership_operator_save(*, actor: Actor, membership: Membership) -> dict[str, list[Any]]:
    """An operator adds or changes a membership in the admin (the form has set the values on
    `membership`). Audited with the organization, role and practitioner before and after, in the
    same transaction; nothing written when nothing changed. Organization admins use `accounts.team`."""
    _require_operator(actor)
    with transaction.atomic():
        current = Membership.objects.select_for_update().filter(pk=membership.pk).first()
        before = _membership_values(current) if current is not None else dict.fromkeys(MEMBERSHIP_FIELDS)
        changes = changes_between(before, _membership_values(membership))
        if current is not None and not changes:
            return {}
        membership.save()
        audit_record(
            actor=actor,
            action=Action.CREATE if current is None else Action.UPDATE,
            object_type="membership",
            object_id=membership.pk,
            via="membership_operator_save",
            changes={"member": str(membership.user_id), **changes},
            touched=[Touched(organization_id=membership.organization_id)],
        )
    return changes


def membership_operator_delete(*, actor: Actor, membership: Membership) -> None:
    """An operator removes a membership in the admin; audited in the same transaction."""
    _require_operator(actor)
    with transaction.atomic():
        values, membership_pk = _membership_values(membership), membership.pk
        membership.delete()
        audit_record(
            actor=actor,
            action=Action.DELETE,
            object_type="membership",
            object_id=membership_pk,
            via="membership_operator_delete",
            changes={"member": str(membership.user_id), **{f: [v, None] for f, v in values.items()}},
            touched=[Touched(organization_id=membership.organization_id)],
        )
