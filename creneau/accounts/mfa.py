"""Second factor: TOTP authenticator apps and single-use recovery codes (docs/decisions/0004-mfa.md).

Mandatory for practice staff (anyone with a Membership) and platform operators (is_staff/superuser),
optional for patients. The TOTP secret is stored with the same field encryption as patient data and
recovery codes only as keyed HMACs, so a copy of the database yields no usable second factor. A TOTP
code is accepted at most once (the last used time step is kept) and attempts are rate limited."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import pyotp
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from creneau.core import clock, ratelimit
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.core.crypto.keys import provider

from .factor_models import MFADevice, RecoveryCode
from .models import Membership

ISSUER = "creneau"
RECOVERY_CODES = 10
SESSION_VERIFIED = "mfa_verified_for"


# --- policy -------------------------------------------------------------------------------------------
def mfa_required_for(user: Any) -> bool:
    """Staff of a practice and platform operators must use a second factor; patients may."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser:
        return True
    return Membership.objects.filter(user=user).exists()


def has_mfa(user: Any) -> bool:
    return MFADevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def is_verified(request: HttpRequest) -> bool:
    return bool(request.user.is_authenticated and request.session.get(SESSION_VERIFIED) == str(request.user.pk))


def mark_verified(request: HttpRequest) -> None:
    request.session[SESSION_VERIFIED] = str(request.user.pk)
    request.session.cycle_key()


# --- TOTP -----------------------------------------------------------------------------------------------
def new_secret() -> str:
    """A fresh TOTP secret for a setup in progress (kept in the session until its first code is confirmed)."""
    return pyotp.random_base32()


def provisioning_uri_for(secret: str, account_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=ISSUER)


def _matching_step(secret: str, code: str) -> int | None:
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(clock.now().timestamp()) // totp.interval
    for step in (now_step - 1, now_step, now_step + 1):  # one step of clock drift either way
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


@transaction.atomic
def confirm_setup(*, user: Any, secret: str, code: str) -> list[str] | None:
    """Confirm the authenticator with a first code: store it, return new recovery codes (shown once)."""
    step = _matching_step(secret, code)
    if step is None:
        return None
    MFADevice.objects.filter(user=user).delete()
    MFADevice.objects.create(user=user, secret=secret, confirmed_at=clock.now(), last_step=step)
    return new_recovery_codes(user)


def source_of(request: Any) -> str:
    """The address a code is typed from ("" outside a request)."""
    return ratelimit.client_ip(request) if request is not None else ""


def limited(user: Any, source: str = "") -> bool:
    """Whether codes for this account from this address are paused (for the page's message)."""
    per_source, per_user = ratelimit.get("mfa-source"), ratelimit.get("mfa-user")
    return (
        ratelimit.count(per_source, f"mfa:{user.pk}:{source}") >= per_source.limit
        or ratelimit.count(per_user, f"mfa:{user.pk}") >= per_user.limit
    )


def verify(user: Any, code: str, *, source: str = "", actor: Actor | None = None) -> bool:
    """A TOTP code (never the same one twice) or an unused recovery code. Each attempt is counted before
    the check, per account and address (5 per 5 minutes: an attacker who knows the password blocks only
    their own address, not the owner's) and per account over all addresses (a wider brake).

    Using up a recovery code is audited (`recovery_code_use`) by `actor`, the account holder by default.
    The TOTP step kept against replays is bookkeeping of the check itself, not audited."""
    per_source = ratelimit.reserve(ratelimit.get("mfa-source"), f"mfa:{user.pk}:{source}")
    if per_source is None:
        return False
    if ratelimit.reserve(ratelimit.get("mfa-user"), f"mfa:{user.pk}") is None:
        ratelimit.refund(per_source)
        return False
    with transaction.atomic():
        device = MFADevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
        if device is None:
            return False
        step = _matching_step(device.secret, code)
        if step is not None:
            if step <= device.last_step:
                return False  # replayed
            device.last_step = step
            device.save(update_fields=["last_step"])
            return True
        return _use_recovery_code(user, code, actor or holder_actor(user, source))


# --- recovery codes ---------------------------------------------------------------------------------------
def _code_hash(code: str) -> str:
    normal = "".join(code.split()).replace("-", "").lower()
    return hmac.new(provider().blind_index_key(), f"recovery\x00{normal}".encode(), hashlib.sha256).hexdigest()


def new_recovery_codes(user: Any) -> list[str]:
    """Replace the user's recovery codes with RECOVERY_CODES new ones (about 50 bits each). Called by the
    audited services (`mfa_enable`, `recovery_codes_regenerate`), not by views."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = ["".join(secrets.choice(alphabet) for _ in range(10)) for _ in range(RECOVERY_CODES)]
    codes = [f"{c[:5]}-{c[5:]}" for c in codes]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(RecoveryCode(user=user, code_hash=_code_hash(c)) for c in codes)
    return codes


def holder_actor(user: Any, source: str = "") -> Actor:
    """The account holder as the actor of their own second-factor step (outside a request)."""
    kind = ActorKind.STAFF if mfa_required_for(user) else ActorKind.PATIENT
    return Actor(kind=kind, channel=Channel.WEB, user=user, ip=source or None)


def _use_recovery_code(user: Any, code: str, actor: Actor) -> bool:
    from creneau.audit.models import Action
    from creneau.audit.services import audit_record

    found = (
        RecoveryCode.objects.select_for_update()
        .filter(user=user, code_hash=_code_hash(code), used_at__isnull=True)
        .only("pk")
        .first()
    )
    if found is None or not RecoveryCode.objects.filter(pk=found.pk, used_at__isnull=True).update(used_at=clock.now()):
        return False
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="recovery_code",
        object_id=found.pk,
        via="recovery_code_use",
        changes={"used": True, "remaining": remaining_recovery_codes(user)},
    )
    return True


def remaining_recovery_codes(user: Any) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def disable(user: Any) -> None:
    """Remove the device and recovery codes. Not a service: call `accounts.services.mfa_disable` (policy,
    audit row, notice); `account_close` uses it inside its own audited transaction."""
    MFADevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()


MFA_CODE_HELP = _("The 6-digit code shown by your authenticator app, or one of your recovery codes.")
