"""Password checks beyond Django's: breached passwords (Pwned Passwords k-anonymity model) and strength.

Breached check: SHA-1 of the password; only the first 5 hex characters ever leave the process (online
mode) and the answer is compared locally. Offline (the default, and the fallback when the online service
does not answer) it reads `data/breached-ranges.txt.gz`, built by `scripts/build_breached_ranges.py` from
the zxcvbn common-password corpus. Online mode (`CRENEAU_BREACHED_PASSWORDS_ONLINE`) asks the public range
API with `Add-Padding: true`, so the response size says nothing about the range either."""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

RANGES_FILE = Path(__file__).resolve().parent / "data" / "breached-ranges.txt.gz"
PREFIX = 5


def _sha1(password: str) -> str:
    return hashlib.sha1(password.encode("utf-8")).hexdigest().upper()  # noqa: S324 (the range protocol's hash)


@functools.cache
def _offline_ranges() -> dict[str, frozenset[str]]:
    ranges: dict[str, set[str]] = {}
    with gzip.open(RANGES_FILE, "rt", encoding="ascii") as fh:
        for line in fh:
            line = line.strip()
            if line:
                ranges.setdefault(line[:PREFIX], set()).add(line[PREFIX:])
    return {k: frozenset(v) for k, v in ranges.items()}


def offline_range(prefix: str) -> frozenset[str]:
    """Known suffix heads (11 hex characters) for a 5-character prefix."""
    return _offline_ranges().get(prefix.upper(), frozenset())


def online_range(prefix: str) -> dict[str, int]:
    """SUFFIX → count from the range API (padding entries, with count 0, dropped)."""
    base: str = settings.CRENEAU_BREACHED_PASSWORDS_URL
    if not base.startswith(("https://", "http://")):
        raise ValueError("CRENEAU_BREACHED_PASSWORDS_URL must be an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        base + prefix.upper(), headers={"Add-Padding": "true", "User-Agent": "creneau-password-check"}
    )
    with urllib.request.urlopen(request, timeout=settings.CRENEAU_BREACHED_PASSWORDS_TIMEOUT) as response:  # noqa: S310
        body = response.read().decode("utf-8", "replace")
    found: dict[str, int] = {}
    for line in body.splitlines():
        suffix, _sep, count = line.strip().partition(":")
        if suffix and count.strip().isdigit() and int(count) > 0:
            found[suffix.upper()] = int(count)
    return found


def is_breached(password: str) -> bool:
    digest = _sha1(password)
    prefix, suffix = digest[:PREFIX], digest[PREFIX:]
    if any(suffix.startswith(head) for head in offline_range(prefix)):
        return True
    if settings.CRENEAU_BREACHED_PASSWORDS_ONLINE:
        try:
            return suffix in online_range(prefix)
        except (OSError, urllib.error.URLError, ValueError):
            # The offline list already answered; never block sign-up because a remote service is down.
            logger.warning("breached-password range service unavailable; offline list used")
    return False


class BreachedPasswordValidator:
    """Refuse passwords known from breaches or common-password lists (NIST SP 800-63B §3.1.1.2)."""

    def validate(self, password: str, user: Any = None) -> None:
        if is_breached(password):
            raise ValidationError(
                _(
                    "This password appears in lists of passwords exposed in data breaches, so attackers try "
                    "it first. Please choose another one: a few unrelated words make a strong password that "
                    "is easy to remember."
                ),
                code="password_breached",
            )

    def get_help_text(self) -> str:
        return _("Your password must not be one that has appeared in a data breach.")


class StrengthValidator:
    """Refuse passwords that zxcvbn estimates easy to guess (score below `min_score`, 0–4), and say how to
    make them stronger. Names and the email address of the account count as guessable words."""

    def __init__(self, min_score: int = 2) -> None:
        self.min_score = min_score

    def validate(self, password: str, user: Any = None) -> None:
        from zxcvbn import zxcvbn

        inputs = [settings.CRENEAU_SITE_WORD]
        email = getattr(user, "email", "") or ""
        if email:
            inputs += [email, *email.replace("@", ".").split(".")]
        result = zxcvbn(password[:128], user_inputs=inputs)
        if result["score"] < self.min_score:
            raise ValidationError(
                _(
                    "This password would be easy to guess (strength %(score)s out of 4). Make it longer, "
                    "for example with three or four unrelated words; avoid names, dates and keyboard patterns."
                ),
                code="password_weak",
                params={"score": result["score"]},
            )

    def get_help_text(self) -> str:
        return _("Your password must be hard to guess: length beats complexity, a few unrelated words work well.")
