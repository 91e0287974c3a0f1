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


def _birth(values: list[object]) -> str:
    birth = values[0]
    return birth.isoformat() if isinstance(birth, dt.date) else str(birth).strip()


NORMALIZERS: dict[str, Callable[[list[object]], str]] = {
    "email": _email,
    "phone": _phone,
    "name_birth": _name_birth,
    "birth": _birth,
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


# --- name fragments ---------------------------------------------------------------------------------
# "Any part of the name" without decrypting the table: each word of the normalized name gives its
# 2- and 3-letter fragments, each stored only as a keyed HMAC (label "name_gram", truncated). A query
# word of 3+ letters must have all its trigrams in a row, one of 2 letters its bigram; the few rows
# that match by coincidence are dropped after decryption (`name_matches`). Truncating to 64 bits keeps
# the rows small and adds collisions on purpose: a digest alone is not proof of a fragment.
NAME_GRAM_HEX = 16
NAME_QUERY_MIN = 2


def _fragments(word: str) -> set[str]:
    out = {f"b:{word[i : i + 2]}" for i in range(len(word) - 1)}
    out |= {f"t:{word[i : i + 3]}" for i in range(len(word) - 2)}
    return out


def _gram_digest(fragment: str, key: bytes) -> str:
    return hmac.new(key, f"name_gram\x00{fragment}".encode(), hashlib.sha256).hexdigest()[:NAME_GRAM_HEX]


def name_words(*names: object) -> list[str]:
    """The normalized words of these names ("Lefèvre-Dupré", "Zoé" → ["lefevre", "dupre", "zoe"])."""
    return [w for n in names if n for w in normalize.name(str(n)).split(" ") if w]


def name_grams(*names: object, keys: KeyProvider | None = None) -> set[str]:
    """The digests stored for a person's names (family and given names together)."""
    key = (keys or provider()).blind_index_key()
    frags: set[str] = set()
    for word in name_words(*names):
        frags |= _fragments(word)
    return {_gram_digest(f, key) for f in frags}


def name_query_grams(query: str, *, keys: KeyProvider | None = None) -> set[str]:
    """The digests a row must all have to match `query` (empty when no word has 2 letters)."""
    key = (keys or provider()).blind_index_key()
    frags: set[str] = set()
    for word in name_words(query):
        if len(word) >= 3:
            frags |= {f for f in _fragments(word) if f.startswith("t:")}
        elif len(word) == 2:
            frags.add(f"b:{word}")
    return {_gram_digest(f, key) for f in frags}


def name_matches(query: str, *names: object) -> bool:
    """Every word of the query (2+ letters) is part of one of the name's words, accents and case aside."""
    wanted = [w for w in name_words(query) if len(w) >= NAME_QUERY_MIN]
    words = name_words(*names)
    return bool(wanted) and all(any(q in w for w in words) for q in wanted)
