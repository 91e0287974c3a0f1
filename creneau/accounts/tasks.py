"""Background work of the accounts app (Django's Tasks API, run by `notifications_worker`)."""

from __future__ import annotations

from django.tasks import task

from creneau.core.actors import Actor, ActorKind, Channel


@task()
def password_reset_dispatch(email_index: str, ip: str = "") -> bool:
    """The deferred half of a password-reset request: look the address up (by its blind index) and,
    for an account, queue the reset message. Deferred so that the request itself does the same work
    whether or not the address has an account (issue 21)."""
    from . import services

    actor = Actor(kind=ActorKind.PATIENT, channel=Channel.WEB, ip=ip or None)
    return services.password_reset_send(actor=actor, email_index=email_index)
