"""The audit trail's keys: HMAC keys for seals and write MACs, the Ed25519 key that signs chain heads.

None of them is in the database, so someone who can write the audit tables cannot produce a seal, a
write MAC or a signed head that verifies."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from creneau.core.crypto.keys import KEY_ID_RE, decode_key


class UnknownSealKey(Exception):
    """A seal or MAC names a key id that no configured key has (removed too early, or forged)."""


@dataclasses.dataclass(frozen=True)
class SealKeys:
    primary: str
    keys: dict[str, bytes]

    def mac(self, kid: str, purpose: bytes, message: bytes) -> str:
        """HMAC-SHA256 under key `kid`, with a purpose label so a seal can never pass for a write MAC."""
        key = self.keys.get(kid)
        if key is None:
            raise UnknownSealKey(kid)
        return hmac.new(key, purpose + b"\x00" + message, hashlib.sha256).hexdigest()


@functools.cache
def seal_keys() -> SealKeys:
    entries = list(getattr(settings, "CRENEAU_AUDIT_SEAL_KEYS", []) or [])
    if not entries:
        raise ImproperlyConfigured("No audit seal key configured (CRENEAU_AUDIT_SEAL_KEYS).")
    keys: dict[str, bytes] = {}
    for kid, material in entries:
        if not KEY_ID_RE.match(kid):
            raise ImproperlyConfigured("Audit seal key ids use letters, digits, '-' and '_' (at most 32).")
        if kid in keys:
            raise ImproperlyConfigured("Two audit seal keys share one key id.")
        keys[kid] = decode_key(material, what=f"Audit seal key {kid!r}")
    return SealKeys(primary=entries[0][0], keys=keys)


def public_key_id(raw: bytes) -> str:
    """A short, stable name for a public key: the start of its SHA-256."""
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(text: str) -> tuple[str, Ed25519PublicKey]:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return public_key_id(raw), Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured("An audit public key is not base64 of 32 bytes (Ed25519).") from exc


@functools.cache
def signing_key() -> tuple[str, Ed25519PrivateKey]:
    """(key id, private key) from CRENEAU_AUDIT_SIGNING_KEY."""
    seed = decode_key(settings.CRENEAU_AUDIT_SIGNING_KEY or "", what="CRENEAU_AUDIT_SIGNING_KEY")
    private = Ed25519PrivateKey.from_private_bytes(seed)
    return public_key_id(public_bytes(private.public_key())), private


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_text() -> str:
    """The signing key's public half, base64: what an auditor is given."""
    return base64.b64encode(public_bytes(signing_key()[1].public_key())).decode()


@functools.cache
def trusted_public_keys() -> dict[str, Ed25519PublicKey]:
    """Every public key whose signatures are accepted: the current signing key's and earlier ones."""
    trusted = dict(load_public_key(k) for k in getattr(settings, "CRENEAU_AUDIT_PUBLIC_KEYS", []) or [])
    kid, private = signing_key()
    trusted[kid] = private.public_key()
    return trusted


def verify_signature(keys: dict[str, Ed25519PublicKey], kid: str, signature: str, message: bytes) -> bool:
    key = keys.get(kid)
    if key is None:
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("CRENEAU_AUDIT_"):
        seal_keys.cache_clear()
        signing_key.cache_clear()
        trusted_public_keys.cache_clear()
