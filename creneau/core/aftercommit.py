"""Side effects run once a transaction has committed, made safe to fail.

Once COMMIT has returned, the write is done: nothing run afterwards may turn it into an error response
(a client told "500" retries and books twice, or gives up on a booking it holds). `after_commit` runs
the callback on commit and, if it raises, logs the failure (its type and what it was: an exception's
text may quote submitted values) and, when given, calls `repair`, itself guarded. Each caller says what
repairs a failure it cannot retry: creneau.scheduling's index updates are redone by the periodic
refresh, the outbox's wake-up task by the worker's sweep."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger("creneau.aftercommit")


def run_guarded(what: str, func: Callable[[], object], repair: Callable[[], object] | None = None) -> None:
    """`func()`, logging instead of raising; then `repair()` (also guarded) if it failed."""
    try:
        func()
        return
    except Exception as exc:
        logger.error("after commit: %s failed (%s); the write itself is committed", what, type(exc).__name__)
    if repair is not None:
        try:
            repair()
        except Exception as exc:
            logger.error("after commit: repairing %s failed too (%s)", what, type(exc).__name__)


def after_commit(what: str, func: Callable[[], object], repair: Callable[[], object] | None = None) -> None:
    """Run `func` once the current transaction commits (never for a rolled-back one), never raising."""
    transaction.on_commit(lambda: run_guarded(what, func, repair))
