"""AES-256-GCM sealing of values, bound to where they live.

Single values (v1): ``<key-id>:<base64url(nonce ‖ ciphertext ‖ tag)>``. Records (v2, several fields of
one row in one token, see `seal_record`): ``<key-id>:<base64(nonce ‖ ciphertext ‖ tag)>``. The
nonce is 96 random bits, fresh for every seal. The associated data names the table, the row's primary
key and the field, so a token copied into another row or column fails authentication instead of opening.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import uuid
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .keys import KeyProvider, UnknownKey, provider

NONCE_BYTES = 12
# Plaintexts are padded (0x80 then zeros) to a multiple of this, so ciphertext length hides exact lengths.
PAD_TO = 16
# A record hides its members' lengths inside one padded total (32-byte steps).
RECORD_PAD_TO = 32
RECORD_SEP = "\x00"
RECORD_NONE = "\x01"


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


def record_aad_prefix(table: str, field: str) -> bytes:
    return f"creneau.v2|{table}|{field}|".encode()


def pk_bytes(row_pk: object) -> bytes:
    """A UUID pk as its 16 bytes (cheaper than str(); last in the AAD and fixed-length: unambiguous)."""
    return row_pk.bytes if isinstance(row_pk, uuid.UUID) else str(row_pk).encode()


def record_associated_data(table: str, row_pk: object, field: str) -> bytes:
    """AAD of a record token (v2): ``creneau.v2|<table>|<field>|`` then the row's pk."""
    return record_aad_prefix(table, field) + pk_bytes(row_pk)


def seal_record(values: Sequence[str | None], *, aad: bytes, keys: KeyProvider | None = None) -> str:
    """Seal several values as one token (one nonce, one tag): opening it is one AES-GCM call.

    Plaintext: the values joined by NUL, None written as SOH (neither may occur in a value), then
    padded like single values."""
    if any(v is not None and (RECORD_SEP in v or RECORD_NONE in v) for v in values):
        raise ValueError("An encrypted value cannot contain NUL or SOH control characters.")
    keys = keys or provider()
    kid = keys.primary_key_id()
    nonce = os.urandom(NONCE_BYTES)
    data = RECORD_SEP.join(RECORD_NONE if v is None else v for v in values).encode("utf-8") + b"\x80"
    data += b"\x00" * (-len(data) % RECORD_PAD_TO)
    blob = _cipher(keys.data_key(kid)).encrypt(nonce, data, aad)
    return f"{kid}:{binascii.b2a_base64(nonce + blob, newline=False).decode('ascii')}"


def unseal_record(token: str, *, aad: bytes, keys: KeyProvider | None = None) -> list[str | None]:
    """The values of a record token, in sealing order; DecryptionError unless it authenticates here."""
    kid, sep, body = token.partition(":")
    if not sep:
        raise DecryptionError("malformed record (no key id)")
    try:
        key = (keys or provider()).data_key(kid)
        raw = binascii.a2b_base64(body, strict_mode=True)
        if len(raw) < NONCE_BYTES + 16:
            raise DecryptionError("malformed record (too short)")
        padded = _cipher(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        values: list[str | None] = padded[: padded.rindex(b"\x80")].decode("utf-8").split(RECORD_SEP)  # type: ignore[assignment]
    except UnknownKey as exc:
        raise DecryptionError(f"no configured key has id {kid!r}") from exc
    except (InvalidTag, binascii.Error, ValueError, UnicodeError) as exc:
        raise DecryptionError("record does not authenticate for this row and field") from exc
    if RECORD_NONE in values:
        values = [None if v == RECORD_NONE else v for v in values]
    return values
