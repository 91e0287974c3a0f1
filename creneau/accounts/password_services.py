"""Password writes: change, the reset request (its lookup and message are the worker's half,
`tasks.password_reset_send`), the reset's completion, and signing out everywhere."""

from __future__ import annotations

from django.db import transaction

from creneau.audit.models import Action
from creneau.core import ratelimit
from creneau.core.actors import Actor
from creneau.core.crypto.blind import blind_index
from creneau.core.events import emit

from . import events
from .auditing import audit_account
from .models import User
from .tasks import password_reset_dispatch

# --- passwords -----------------------------------------------------------------------------------------


def password_change(*, actor: Actor, user: User, new_password: str) -> None:
    """Set a new password the caller has validated (old password typed again, validators passed)."""
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        audit_account(actor, Action.UPDATE, user.pk, "password_change", changes={"password": "changed"})
        emit(events.PASSWORD_CHANGED, user_id=user.pk)


def password_reset_request(*, actor: Actor, email: str) -> bool:
    """Ask for a reset link for `email`. Constant shape: whatever the address, the request only takes
    one per-address counter (a mailbox gets a bounded number of links) and enqueues one task carrying
    the address's blind index (no address in the task table); the worker looks the account up and
    queues the message (`password_reset_send`). Returns whether a task was enqueued."""
    key = email.strip().casefold()
    if not ratelimit.allow(ratelimit.get("password-reset-account"), key):
        return False
    password_reset_dispatch.enqueue(email_index=blind_index("email", key) or "", ip=actor.ip or "")
    return True


def password_reset_complete(*, actor: Actor, user: User, new_password: str) -> None:
    """Set the password chosen through a valid reset link (the link's view checked the token)."""
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        audit_account(actor, Action.UPDATE, user.pk, "password_reset", changes={"password": "changed"})
        emit(events.PASSWORD_CHANGED, user_id=user.pk)


def account_sign_out_everywhere(*, actor: Actor, user: User, password: str) -> None:
    """End every session of the account: the password is re-hashed with a fresh salt, so every other
    session's auth hash stops matching. The caller checked the password."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_account(actor, Action.SIGN_OUT, user.pk, "sign_out_everywhere")
