"""`manage.py notifications_worker`: run background tasks and deliver the outbox.

Each pass runs the ready Django tasks (django_tasks_db's worker, batch mode), then sweeps: due
messages, messages whose worker died (expired lease), expired waiting-list offers; task rows a dead
worker left running; and it forgets messages past their retention period. Any number of
these processes may run on any number of machines: tasks are claimed by django_tasks_db's row
locking, messages by a conditional UPDATE."""

from __future__ import annotations

import logging
import signal
import time
from argparse import ArgumentParser
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from creneau.core import periodic
from creneau.notifications import outbox, waitlist
from creneau.notifications.tasks import stuck_tasks_reclaim

logger = logging.getLogger("creneau.notifications")
PRUNE_EVERY_PASSES = 900  # about every 30 minutes when idle
RECLAIM_EVERY_PASSES = 30  # about every minute when idle


class Command(BaseCommand):
    help = "Run background tasks and deliver queued messages (safe to run several at once)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds to sleep when idle.")
        parser.add_argument("--once", action="store_true", help="One pass, then exit (cron, tests).")

    def handle(self, *args: Any, interval: float, once: bool, **options: Any) -> None:
        self.running = True
        self.passes = 0
        if options.get("verbosity", 1) < 2:  # its per-pass "starting/no more tasks" lines are noise here
            logging.getLogger("django_tasks_db").setLevel(logging.WARNING)
        if not once:
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
        worker_id = get_random_string(32)
        logger.info("notifications worker %s started", worker_id)
        while self.running:
            close_old_connections()
            try:
                done = self.one_pass(worker_id)
            except Exception as exc:  # database restarting, locked SQLite file...: keep the worker alive
                if once:
                    raise
                logger.error("notifications worker pass failed (%s); retrying", type(exc).__name__)
                done = 0
            close_old_connections()
            if once:
                break
            if not done:
                time.sleep(interval)
        logger.info("notifications worker %s stopped", worker_id)

    def one_pass(self, worker_id: str) -> int:
        """Each step on its own: one that fails (Redis gone for the periodic claims, a task that
        raises) is logged and the others still run, the outbox sweep above all."""
        steps: list[tuple[str, Callable[[], object]]] = [
            ("tasks", lambda: self._run_tasks(worker_id)),
            # audit sealing and checkpoints, availability index, retention
            ("periodic jobs", periodic.run_due),
            ("waiting-list offers", waitlist.offers_expire),
            ("outbox", outbox.deliver_due),
        ]
        if self.passes % RECLAIM_EVERY_PASSES == 0:
            steps.insert(0, ("stuck tasks", stuck_tasks_reclaim))
        if self.passes % PRUNE_EVERY_PASSES == 0:
            steps.append(("outbox pruning", outbox.prune))
        self.passes += 1
        done = 0
        failures = 0
        for name, step in steps:
            try:
                result = step()
            except Exception as exc:
                failures += 1
                logger.error("notifications worker: %s failed (%s)", name, type(exc).__name__)
                close_old_connections()
                continue
            if name in ("waiting-list offers", "outbox") and isinstance(result, int):
                done += result
        if failures == len(steps):
            raise RuntimeError("every step of the pass failed")
        return done

    def _run_tasks(self, worker_id: str) -> None:
        Worker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=100,
            worker_id=worker_id,
            excluded_queue_names=[],
        ).run()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.running = False
