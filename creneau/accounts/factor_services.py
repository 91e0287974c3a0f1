"""Second-factor writes: the authenticator app (enable, disable, recovery codes, a code checked) and
passkeys (register, remove, a passkey sign-in recorded). Audited like every account write."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from creneau.audit.models import Action
from creneau.core.actors import Actor
from creneau.core.errors import Conflict, PolicyViolation
from creneau.core.events import emit

from . import events, mfa, passkeys
from .auditing import audit_account
from .models import User

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
        audit_account(
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
        audit_account(
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
        audit_account(
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
        audit_account(
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
        audit_account(actor, Action.DELETE, passkey_pk, "passkey_remove", object_type="passkey")
        emit(events.PASSKEY_CHANGED, user_id=user.pk, change="removed")


def passkey_sign_in_record(*, actor: Actor, user: User, passkey: passkeys.Passkey, new_device: bool) -> None:
    """Record a sign-in made with a passkey alone (user verified by the authenticator)."""
    with transaction.atomic():
        audit_account(
            actor,
            Action.SIGN_IN,
            user.pk,
            "passkey_sign_in",
            changes={"new_device": new_device, "passkey": str(passkey.pk)},
        )
        if new_device:
            emit(events.NEW_LOGIN, user_id=user.pk)
