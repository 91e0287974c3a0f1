"""Blind indexes: HMAC-SHA256 of a normalized value under a key of their own.

Equal inputs give equal indexes, so an exact-match search works without decrypting the table; without
the key, an index says nothing about the value (no dictionary attack on a dump). Each kind of index has
its own domain label so that an email index can never match a phone index."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable

from . import normalize
from .keys import KeyProvider, provider


def _email(values: list[object]) -> str:
    return normalize.email(str(values[0]))


def _phone(values: list[object]) -> str:
    return normalize.phone(str(values[0]))


def _name_birth(values: list[object]) -> str:
    birth = values[1]
    assert isinstance(birth, dt.date | str)
    return normalize.name_and_birth_date(str(values[0]), birth)


NORMALIZERS: dict[str, Callable[[list[object]], str]] = {
    "email": _email,
    "phone": _phone,
    "name_birth": _name_birth,
}


def blind_index(kind: str, *values: object, keys: KeyProvider | None = None) -> str | None:
    """The index of these values, or None when any is empty (nothing to find by)."""
    if any(v is None or v == "" for v in values):
        return None
    normal = NORMALIZERS[kind](list(values))
    if not normal:
        return None
    key = (keys or provider()).blind_index_key()
    return hmac.new(key, f"{kind}\x00{normal}".encode(), hashlib.sha256).hexdigest()
