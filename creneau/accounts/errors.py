"""Errors of team management that a page must tell apart (an invitation link used, expired, withdrawn)."""

from __future__ import annotations

from creneau.core.errors import DomainError


class InvitationUnusable(DomainError):
    """The invitation link exists but can no longer be used: 410, with a message saying why (used,
    expired, withdrawn). An unknown link is a plain NotFound."""

    code = "invitation-unusable"
    http_status = 410
