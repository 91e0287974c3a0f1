"""AES-256-GCM sealing of single values, bound to where they live.

Stored form: ``<key-id>:<base64url(nonce ‖ ciphertext ‖ tag)>``. The nonce is 96 random bits, fresh for
every value. The associated data names the table, the row's primary key and the field, so a value
copied into another row or column fails authentication instead of decrypting.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .keys import KeyProvider, UnknownKey, provider

NONCE_BYTES = 12
# Plaintexts are padded (0x80 then zeros) to a multiple of this, so ciphertext length hides exact lengths.
PAD_TO = 16


class DecryptionError(Exception):
    """A stored value does not authenticate: wrong row/field, altered bytes, or an unknown key."""


@functools.lru_cache(maxsize=32)
def _cipher(key: bytes) -> AESGCM:
    """One AES-GCM object per key (its key schedule is computed once; it is stateless between calls)."""
    return AESGCM(key)


def associated_data(table: str, row_pk: object, field: str) -> bytes:
    return f"creneau.v1|{table}|{row_pk}|{field}".encode()


def seal(plaintext: str, *, aad: bytes, keys: KeyProvider | None = None) -> str:
    keys = keys or provider()
    kid = keys.primary_key_id()
    nonce = os.urandom(NONCE_BYTES)
    data = plaintext.encode("utf-8") + b"\x80"
    data += b"\x00" * (-len(data) % PAD_TO)
    blob = _cipher(keys.data_key(kid)).encrypt(nonce, data, aad)
    return f"{kid}:{base64.urlsafe_b64encode(nonce + blob).decode('ascii')}"


def key_id_of(token: str) -> str:
    return token.partition(":")[0]


def unseal(token: str, *, aad: bytes, keys: KeyProvider | None = None) -> str:
    keys = keys or provider()
    kid, sep, body = token.partition(":")
    if not sep:
        raise DecryptionError("malformed value (no key id)")
    try:
        key = keys.data_key(kid)
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
        if len(raw) < NONCE_BYTES + 16:
            raise DecryptionError("malformed value (too short)")
        padded = _cipher(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        return padded[: padded.rindex(b"\x80")].decode("utf-8")
    except UnknownKey as exc:
        raise DecryptionError(f"no configured key has id {kid!r}") from exc
    except (InvalidTag, binascii.Error, ValueError, UnicodeError) as exc:
        raise DecryptionError("value does not authenticate for this row and field") from exc
