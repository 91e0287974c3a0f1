"""Links that carry a secret (verify an address, reset a password, join a team): stored bodies hold
`SECRET` in place of the token, and `with_secret_link` puts a fresh token in as the message leaves (the
outbox's sender calls it), so the outbox table never holds a usable link."""

from __future__ import annotations

import uuid

from django.contrib.auth.tokens import default_token_generator

from creneau.accounts.models import Invitation, InvitationState, User
from creneau.accounts.selectors import invitation_token
from creneau.core import clock

from .models import Kind, OutboundMessage
from .sms import SendError

# Stands for the token in stored bodies; only URL-safe characters, so it stays inside the link.
SECRET = "TOKEN-SET-WHEN-SENT"
SECRET_KINDS = (Kind.ACCOUNT_VERIFICATION, Kind.PASSWORD_RESET, Kind.TEAM_INVITATION)
# An invitation e-mail's dedup key starts with this, then the invitation's id.
INVITATION_DEDUP = f"{Kind.TEAM_INVITATION}:"


def with_secret_link(message: OutboundMessage) -> tuple[str, str]:
    """The text and HTML bodies to send, with a fresh token where the stored ones hold SECRET
    (an account link's token is Django's for the account; a team invitation's is the invitation's)."""
    if message.kind not in SECRET_KINDS or SECRET not in message.body_text:
        return message.body_text, message.body_html
    if message.kind == Kind.TEAM_INVITATION:
        token = invitation_secret_link(message)
        return message.body_text.replace(SECRET, token), message.body_html.replace(SECRET, token)
    user = User.objects.filter(pk=message.user_id).first() if message.user_id else None
    if user is None:
        raise SendError("account gone", permanent=True)
    token = default_token_generator.make_token(user)
    return message.body_text.replace(SECRET, token), message.body_html.replace(SECRET, token)


def invitation_secret_link(message: OutboundMessage) -> str:
    """The token to put in an invitation e-mail now being sent. An invitation withdrawn, used or
    expired before its e-mail left is not sent at all (a permanent failure: nothing to retry)."""
    raw = message.dedup_key.removeprefix(INVITATION_DEDUP).partition(":")[0]
    try:
        invitation = Invitation.objects.filter(pk=uuid.UUID(raw)).first()
    except ValueError:
        invitation = None
    if invitation is None:
        raise SendError("invitation gone", permanent=True)
    if invitation.state(clock.now()) != InvitationState.PENDING:
        raise SendError(f"invitation {invitation.state(clock.now())}", permanent=True)
    return invitation_token(invitation.pk)
