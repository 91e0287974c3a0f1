"""Background work of the accounts app (Django's Tasks API, run by `notifications_worker`)."""

from __future__ import annotations

from django.db import transaction
from django.tasks import task

from creneau.audit.models import Action
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.core.events import emit

from . import events
from .auditing import audit_account
from .models import User


@task()
def password_reset_dispatch(email_index: str, ip: str = "") -> bool:
    """The deferred half of a password-reset request: look the address up (by its blind index) and,
    for an account, queue the reset message. Deferred so that the request itself does the same work
    whether or not the address has an account (issue 21)."""
    actor = Actor(kind=ActorKind.PATIENT, channel=Channel.WEB, ip=ip or None)
    return password_reset_send(actor=actor, email_index=email_index)


def password_reset_send(*, actor: Actor, email_index: str) -> bool:
    """The worker's half of a reset request: for an active account with a password, one audit row and
    the reset message (its link is made when the message leaves, see notifications.account). Nothing
    for an unknown address."""
    with transaction.atomic():
        user = User.objects.filter(email_bidx=email_index, is_active=True).first() if email_index else None
        if user is None or not user.has_usable_password():
            return False
        audit_account(actor, Action.CREATE, user.pk, "password_reset_request", object_type="password_reset")
        emit(events.PASSWORD_RESET_REQUESTED, user_id=user.pk)
    return True
