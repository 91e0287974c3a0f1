"""Passkeys (WebAuthn, through the `webauthn` package): a phishing-resistant factor beside TOTP and
recovery codes (docs/decisions/0004-accounts-mfa-and-abuse-limits.md).

A passkey serves as the second step after the password, as the whole sign-in (with user verification:
something held and something known or biometric), and to confirm it is really you before a sensitive
change. Only the public key is stored, with the authenticator's signature counter: an assertion whose
counter does not grow is refused (a cloned authenticator). Every challenge is random, single-use and
expires after CHALLENGE_SECONDS: the session holds it, a row here lets it be consumed exactly once.
The relying party id and the allowed origins come from settings (the public URL by default): an
assertion made for another site, or on another origin, is refused. Writes go through the audited
services of `accounts.services` (`passkey_register`, `passkey_remove`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from creneau.core import clock
from creneau.core.errors import InvalidInput

from . import mfa
from .factor_models import NAME_MAX, Passkey, PasskeyChallenge, Purpose
from .models import Membership

CHALLENGE_SECONDS = 300
SESSION_METHOD = "mfa_method"  # how the session's second step was passed: "passkey" or "code"
SESSION_CHALLENGE = "passkey_challenge"


class PasskeyRefused(InvalidInput):
    """A ceremony that did not verify: the message says what the person can do; nothing was written."""


# --- configuration and policy ---------------------------------------------------------------------


def rp_id() -> str:
    """The relying party id: the public site's host unless CRENEAU_WEBAUTHN_RP_ID says otherwise."""
    return getattr(settings, "CRENEAU_WEBAUTHN_RP_ID", "") or urlsplit(settings.CRENEAU_PUBLIC_URL).hostname or ""


def origins() -> list[str]:
    """Origins a ceremony may come from: the public site's unless CRENEAU_WEBAUTHN_ORIGINS lists them."""
    listed: list[str] = list(getattr(settings, "CRENEAU_WEBAUTHN_ORIGINS", []) or [])
    if listed:
        return listed
    parts = urlsplit(settings.CRENEAU_PUBLIC_URL)
    return [f"{parts.scheme}://{parts.netloc}"]


def has_passkey(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and Passkey.objects.filter(user=user).exists()


def has_second_factor(user: Any) -> bool:
    """An authenticator app or a passkey."""
    return mfa.has_mfa(user) or has_passkey(user)


def passkeys_required_for(user: Any) -> bool:
    """Whether one of the account's organizations requires its staff to sign in with a passkey."""
    if not getattr(user, "is_authenticated", False):
        return False
    return Membership.objects.filter(
        user=user, organization__require_passkeys=True, organization__is_active=True
    ).exists()


def mark_verified(request: HttpRequest) -> None:
    """The session passed its second step with a passkey (what an organization's policy asks for)."""
    mfa.mark_verified(request)
    request.session[SESSION_METHOD] = "passkey"


def verified_with_passkey(request: HttpRequest) -> bool:
    return mfa.is_verified(request) and request.session.get(SESSION_METHOD) == "passkey"


def may_enroll(request: HttpRequest) -> bool:
    """Adding a passkey needs the second step passed, unless the account has none yet (first setup,
    like an authenticator app's): a password alone never adds a factor beside an existing one."""
    return mfa.is_verified(request) or not has_second_factor(request.user)


# --- challenges -------------------------------------------------------------------------------------


def _hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def _issue(request: HttpRequest, purpose: Purpose, user: Any | None) -> bytes:
    """A fresh challenge for one ceremony, remembered by this session and by the table (single use)."""
    challenge = secrets.token_bytes(32)
    now = clock.now()
    PasskeyChallenge.objects.filter(expires_at__lte=now).delete()
    PasskeyChallenge.objects.create(
        challenge_hash=_hash(challenge),
        purpose=purpose,
        user=user,
        expires_at=now + dt.timedelta(seconds=CHALLENGE_SECONDS),
    )
    request.session[SESSION_CHALLENGE] = {"purpose": str(purpose), "value": bytes_to_base64url(challenge)}
    return challenge


def _consume(request: HttpRequest, purpose: Purpose, user: Any | None) -> bytes:
    """The session's challenge for `purpose`, used up now; refused if absent, expired or already used."""
    held = request.session.pop(SESSION_CHALLENGE, None)
    if not isinstance(held, dict) or held.get("purpose") != str(purpose):
        raise _expired()
    try:
        challenge = base64url_to_bytes(str(held.get("value", "")))
    except (ValueError, TypeError):
        raise _expired() from None
    used = PasskeyChallenge.objects.filter(
        challenge_hash=_hash(challenge), purpose=purpose, user=user, expires_at__gt=clock.now()
    ).delete()[0]
    if not used:
        raise _expired()
    return challenge


def _expired() -> PasskeyRefused:
    return PasskeyRefused(
        _("This passkey request has expired or was already used. Please try again."), code="challenge"
    )


def _descriptors(user: Any) -> list[PublicKeyCredentialDescriptor]:
    out = []
    for credential_id, transports in Passkey.objects.filter(user=user).values_list("credential_id", "transports"):
        known = [AuthenticatorTransport(t) for t in transports or [] if t in AuthenticatorTransport._value2member_map_]
        out.append(PublicKeyCredentialDescriptor(id=base64url_to_bytes(credential_id), transports=known or None))
    return out


# --- registration -----------------------------------------------------------------------------------


def registration_options(request: HttpRequest, user: Any) -> str:
    """The JSON options of `navigator.credentials.create()` for `user` (existing passkeys excluded)."""
    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name="creneau",
        user_name=user.email,
        user_id=user.pk.bytes,
        user_display_name=user.email,
        challenge=_issue(request, Purpose.REGISTER, user),
        timeout=CHALLENGE_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(user),
    )
    return options_to_json(options)


@dataclass(frozen=True)
class NewPasskey:
    credential_id: str
    public_key: bytes
    sign_count: int
    transports: list[str]
    aaguid: str
    backed_up: bool


def _credential(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, TypeError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not isinstance(data.get("response"), dict):
        raise PasskeyRefused(_("The browser's answer could not be read. Please try again."), code="malformed")
    return data


def verify_registration(request: HttpRequest, user: Any, raw: str) -> NewPasskey:
    """Check the browser's answer to `registration_options` (this session's challenge, our RP id and
    origin, a supported key). Raises PasskeyRefused."""
    data = _credential(raw)
    challenge = _consume(request, Purpose.REGISTER, user)
    try:
        verified = verify_registration_response(
            credential=data, expected_challenge=challenge, expected_rp_id=rp_id(), expected_origin=origins()
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise PasskeyRefused(
            _("This passkey could not be checked for this site. Nothing was saved; please try again."), code="invalid"
        ) from None
    transports = data["response"].get("transports")
    return NewPasskey(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[str(t)[:16] for t in transports[:8]] if isinstance(transports, list) else [],
        aaguid=verified.aaguid,
        backed_up=verified.credential_backed_up,
    )


def clean_name(value: str) -> str:
    name = " ".join((value or "").split())[:NAME_MAX]
    return name or _("Passkey")


# --- authentication ---------------------------------------------------------------------------------


def authentication_options(request: HttpRequest, purpose: Purpose, user: Any | None) -> str:
    """The JSON options of `navigator.credentials.get()`: the account's passkeys, or any passkey of
    this site for a sign-in without password (user verification required there and for re-auth)."""
    options = generate_authentication_options(
        rp_id=rp_id(),
        challenge=_issue(request, purpose, user),
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=_descriptors(user) if user is not None else [],
        user_verification=(
            UserVerificationRequirement.PREFERRED
            if purpose == Purpose.SECOND_FACTOR
            else UserVerificationRequirement.REQUIRED
        ),
    )
    return options_to_json(options)


def _not_known() -> PasskeyRefused:
    return PasskeyRefused(
        _("This passkey is not (or no longer) registered for this account. Use another one or your password."),
        code="unknown-passkey",
    )


def verify_assertion(request: HttpRequest, purpose: Purpose, user: Any | None, raw: str) -> Passkey:
    """Check the browser's answer to `authentication_options` and record the new signature counter.
    For a sign-in (`user` None) the passkey names its account. Raises PasskeyRefused: unknown or
    removed passkey, another account's, wrong site or origin, used or expired challenge, a counter
    that did not grow (cloned authenticator), an inactive account."""
    data = _credential(raw)
    challenge = _consume(request, purpose, user)
    passkeys = Passkey.objects.select_related("user").filter(credential_id=data["id"])
    if user is not None:
        passkeys = passkeys.filter(user=user)
    passkey = passkeys.first()
    if passkey is None or not passkey.user.is_active:
        raise _not_known()
    handle = data["response"].get("userHandle")
    if handle:
        try:
            if base64url_to_bytes(handle) != passkey.user.pk.bytes:
                raise _not_known()
        except (ValueError, TypeError):
            raise _not_known() from None
    try:
        verified = verify_authentication_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origins(),
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=purpose != Purpose.SECOND_FACTOR,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise PasskeyRefused(
            _("This passkey could not be checked for this site. Please try again."), code="invalid"
        ) from None
    with transaction.atomic():
        # Conditional on the counter read above: two uses of one counter value, one passes.
        moved = Passkey.objects.filter(pk=passkey.pk, sign_count=passkey.sign_count).update(
            sign_count=verified.new_sign_count, last_used_at=clock.now()
        )
    if not moved:
        raise _expired()
    passkey.sign_count = verified.new_sign_count
    return passkey
