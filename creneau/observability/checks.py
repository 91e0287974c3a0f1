"""System checks: the metrics endpoint is either off or behind a token long enough not to be guessed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

MIN_TOKEN_LENGTH = 32


@register(Tags.security, deploy=True)
def check_metrics_token(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    token = getattr(settings, "CRENEAU_METRICS_TOKEN", "")
    if token and len(token) < MIN_TOKEN_LENGTH:
        return [
            Warning(
                f"CRENEAU_METRICS_TOKEN has fewer than {MIN_TOKEN_LENGTH} characters.",
                hint='Generate one with python -c "import secrets; print(secrets.token_urlsafe(32))".',
                id="observability.W001",
            )
        ]
    return []
