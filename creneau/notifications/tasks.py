"""Background work through Django's Tasks API (`django.tasks`, database backend `django_tasks_db`).

Tasks are wake-ups: the outbox rows are the source of truth, and every task is safe to run twice or
concurrently because delivery claims each row with a conditional UPDATE."""

from __future__ import annotations

from django.tasks import task

from . import outbox, waitlist


@task()
def deliver_messages(message_ids: list[str]) -> int:
    """Deliver freshly queued (or now due) messages."""
    return outbox.deliver_ids(message_ids)


@task()
def expire_waitlist_offers() -> int:
    """Release expired waiting-list offers and pass each slot to the next person in line."""
    return waitlist.offers_expire()


@task()
def sweep() -> int:
    """Catch-all: due messages (including those of a crashed worker) and expired offers."""
    return waitlist.offers_expire() + outbox.deliver_due()
