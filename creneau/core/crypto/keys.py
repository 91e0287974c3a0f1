"""Key providers: who holds the keys that encrypt personal data and compute blind indexes.

The application only asks a `KeyProvider` for "the key to encrypt with now", "the key with this id" and
"the blind-index key". `SettingsKeyProvider` reads them from settings (which read the environment or
`*_FILE` secrets). Envelope encryption fits the same interface: a KMS/HSM provider keeps only *wrapped*
data keys in its configuration, asks the key service to unwrap each one once at start-up, and hands the
plaintext data key to the cipher; the master key never leaves the key service. Point
`CRENEAU_KEY_PROVIDER` at such a class to switch.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

KEY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
KEY_BYTES = 32  # AES-256


class UnknownKey(Exception):
    """A stored value names a key id that no configured key has (removed too early, or tampering)."""


class KeyProvider(Protocol):
    def primary_key_id(self) -> str:
        """The id of the key that encrypts new values."""
        ...

    def key_ids(self) -> tuple[str, ...]:
        """Every key id that can decrypt, primary first."""
        ...

    def data_key(self, key_id: str) -> bytes:
        """The 32-byte data key for this id; UnknownKey if there is none."""
        ...

    def blind_index_key(self) -> bytes:
        """The HMAC key for blind indexes (never one of the data keys)."""
        ...


def decode_key(material: str, *, what: str) -> bytes:
    try:
        raw = base64.b64decode(material, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{what} is not valid base64.") from exc
    if len(raw) != KEY_BYTES:
        raise ImproperlyConfigured(f"{what} must be {KEY_BYTES} bytes (base64 of 32 random bytes).")
    return raw


class SettingsKeyProvider:
    """Keys from `CRENEAU_FIELD_KEYS` (ordered [(kid, base64)], first encrypts) and `CRENEAU_BLIND_INDEX_KEY`."""

    def __init__(self) -> None:
        entries = list(getattr(settings, "CRENEAU_FIELD_KEYS", []) or [])
        if not entries:
            raise ImproperlyConfigured("No field encryption key configured (CRENEAU_FIELD_KEYS).")
        self._keys: dict[str, bytes] = {}
        order: list[str] = []
        for kid, material in entries:
            if not KEY_ID_RE.match(kid):
                raise ImproperlyConfigured("Field key ids use letters, digits, '-' and '_' (at most 32).")
            if kid in self._keys:
                raise ImproperlyConfigured("Two field keys share one key id.")
            self._keys[kid] = decode_key(material, what=f"Field key {kid!r}")
            order.append(kid)
        self._order = tuple(order)
        bidx = getattr(settings, "CRENEAU_BLIND_INDEX_KEY", "")
        if not bidx:
            raise ImproperlyConfigured("No blind-index key configured (CRENEAU_BLIND_INDEX_KEY).")
        self._bidx = decode_key(bidx, what="The blind-index key")
        if self._bidx in self._keys.values():
            raise ImproperlyConfigured("The blind-index key must differ from every field encryption key.")

    def primary_key_id(self) -> str:
        return self._order[0]

    def key_ids(self) -> tuple[str, ...]:
        return self._order

    def data_key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKey(key_id) from None

    def blind_index_key(self) -> bytes:
        return self._bidx


@functools.cache
def provider() -> KeyProvider:
    """The configured provider, built once per process (and again when tests change the settings)."""
    path = getattr(settings, "CRENEAU_KEY_PROVIDER", "creneau.core.crypto.keys.SettingsKeyProvider")
    cls = import_string(path)
    instance: KeyProvider = cls()
    return instance


@receiver(setting_changed)
def _reset_provider(*, setting: str, **kwargs: object) -> None:
    if setting in {"CRENEAU_FIELD_KEYS", "CRENEAU_BLIND_INDEX_KEY", "CRENEAU_KEY_PROVIDER"}:
        provider.cache_clear()
