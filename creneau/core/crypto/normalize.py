"""Normal forms for blind indexes: two spellings a person would call "the same" give the same index."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—'’.]+")
_PHONE_JUNK = re.compile(r"[\s.\-()/]")


def email(value: str) -> str:
    return value.strip().casefold()


def phone(value: str, *, default_country_code: str = "33") -> str:
    """E.164 (``+33612345678``). National French numbers (``06 12 34 56 78``) get +33; ``00`` means ``+``."""
    digits = _PHONE_JUNK.sub("", value.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("+"):
        rest = digits[1:]
        # "+33 (0)6…" is a common way to write it: drop the trunk 0 after the country code.
        if rest.startswith(default_country_code + "0"):
            rest = default_country_code + rest[len(default_country_code) + 1 :]
        return "+" + rest
    if digits.startswith("0"):
        return f"+{default_country_code}{digits[1:]}"
    return digits


def name(value: str) -> str:
    """Case-folded, accents stripped, hyphens/apostrophes/spaces collapsed: "Lefèvre-D'Août" → "lefevre d aout"."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", stripped.casefold()).strip()


def name_and_birth_date(family_name: str, birth_date: dt.date | str) -> str:
    day = birth_date.isoformat() if isinstance(birth_date, dt.date) else str(birth_date)
    return f"{name(family_name)}|{day}"
