"""Reads for the patient account: the messages we sent it, and checking a code from a message."""

from __future__ import annotations

from creneau.core.actors import Actor

from .models import MessageStatus, OutboundMessage
from .rendering import normalize_code

VISIBLE = (MessageStatus.SENT, MessageStatus.SENDING)


def messages_sent_to_account(actor: Actor, *, limit: int = 100) -> list[OutboundMessage]:
    """The account's own messages that left (or are leaving) our servers, newest first."""
    if actor.user is None:
        return []
    return list(
        OutboundMessage.objects.filter(user=actor.user, status__in=VISIBLE)
        .only("id", "kind", "channel", "subject", "code", "sent_at", "created_at", "status")
        .order_by("-created_at")[:limit]
    )


def message_verify(actor: Actor, code: str) -> list[OutboundMessage]:
    """Messages of this account carrying `code` (empty: we did not send a message with this code)."""
    if actor.user is None:
        return []
    return list(
        OutboundMessage.objects.filter(user=actor.user, status__in=VISIBLE, code=normalize_code(code)).order_by(
            "-created_at"
        )
    )
