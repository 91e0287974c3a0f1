"""System checks for the audit trail. Stable ids: creneau.E201."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

DEV_SIGNING_KEY = "dev-only-audit-signing-key"


@register("security", deploy=False)
def audit_signing_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Production refuses to start with the development checkpoint-signing key: anyone reading the
    source could forge checkpoints."""
    if settings.CRENEAU_REQUIRE_REAL_KEYS and settings.CRENEAU_AUDIT_SIGNING_KEY in ("", DEV_SIGNING_KEY):
        return [
            Error(
                "CRENEAU_AUDIT_SIGNING_KEY is not set.",
                hint="Set CRENEAU_AUDIT_SIGNING_KEY to a long random secret kept outside the database.",
                id="creneau.E201",
            )
        ]
    return []
