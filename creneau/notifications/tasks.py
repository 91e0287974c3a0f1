"""Background work through Django's Tasks API (`django.tasks`, database backend `django_tasks_db`).

Tasks are wake-ups: the outbox rows are the source of truth, and every task is safe to run twice or
concurrently because delivery claims each row with a conditional UPDATE. `deliver_messages` is defined in
`outbox` and `expire_waitlist_offers` in `waitlist` (each enqueued by its own module)."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.tasks import task
from django.tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from creneau.core import clock

from . import outbox, waitlist

# The wake-up tasks live beside what they wake (outbox, waitlist), which enqueue them; named here too, so
# that a task queued under its former path still runs.
from .outbox import deliver_messages
from .waitlist import expire_waitlist_offers

__all__ = ["deliver_messages", "expire_waitlist_offers", "stuck_tasks_reclaim", "sweep"]

logger = logging.getLogger("creneau.notifications")


@task()
def sweep() -> int:
    """Catch-all: due messages (including those of a crashed worker) and expired offers."""
    return waitlist.offers_expire() + outbox.deliver_due()


def stuck_tasks_reclaim() -> int:
    """Make tasks left RUNNING by a worker that died (kill -9, machine lost) READY again, once they have
    run longer than `CRENEAU_TASK_STUCK_SECONDS`; returns how many. One conditional UPDATE: a worker
    finishing the task meanwhile keeps its result."""
    cutoff = clock.now() - dt.timedelta(seconds=settings.CRENEAU_TASK_STUCK_SECONDS)
    count = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff).update(
        status=TaskResultStatus.READY, started_at=None, run_after=clock.now()
    )
    if count:
        logger.warning("tasks: %d task(s) left running by a dead worker made ready again", count)
    return count
