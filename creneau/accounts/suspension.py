"""What a suspension does to an account (listener of `audit.principal_suspended`)."""

from __future__ import annotations

from .models import User


def on_principal_suspended(*, principal: str, reason: str) -> None:
    """A suspended user principal's account is deactivated at once, in the suspension's transaction
    (API clients keep their row: every channel's gate refuses a suspended principal)."""
    if principal.startswith("user:"):
        User.objects.filter(pk=principal.removeprefix("user:")).update(is_active=False)
