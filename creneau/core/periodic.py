"""Periodic maintenance run by the background worker: each job at most once per interval across all
workers.

The claim is a database row (`core.PeriodicJobClaim`), taken with one conditional UPDATE: "set the next
due time where the job is due now"; the worker whose UPDATE changed the row runs the job, the others
skip it. The cache only spares the query: a worker that already took (or saw taken) a job's cache key
for this interval does not ask the database again until the interval ends. Without Redis the cache is
per process, and the row still makes the run happen once overall.

While the database cannot be reached the cache's claim decides alone (once per interval per worker while
Redis is also gone): the jobs are all safe to overlap."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed
from django.db import DatabaseError, IntegrityError, transaction
from django.dispatch import receiver
from django.utils.module_loading import import_string

from creneau.core import clock
from creneau.core.cache import CacheUnavailable
from creneau.core.models import PeriodicJobClaim

logger = logging.getLogger("creneau.periodic")
# This process's own claims, used while the shared cache is unavailable.
_local = LocMemCache("creneau-periodic-fallback", {})


@functools.cache
def jobs() -> tuple[tuple[str, int, Callable[[], object]], ...]:
    """(name, seconds between runs, job) for each entry of settings.CRENEAU_PERIODIC_JOBS, the job loaded
    with import_string: core names no app, each app's job is listed in the settings (reset when the
    setting changes in tests)."""
    return tuple((name, int(every), import_string(path)) for name, every, path in settings.CRENEAU_PERIODIC_JOBS)


@receiver(setting_changed)
def _reset(*, setting: str, **_: Any) -> None:
    if setting == "CRENEAU_PERIODIC_JOBS":
        jobs.cache_clear()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def claim_row(name: str, every: int) -> bool:
    """Take this interval's run of `name` in the database: True for exactly one caller per interval,
    however many workers ask at once (the row's first insert, or the UPDATE that finds it due)."""
    now = clock.now()
    fields = {"due_at": now + dt.timedelta(seconds=every), "claimed_at": now, "claimed_by": worker_name()}
    if PeriodicJobClaim.objects.filter(name=name, due_at__lte=now).update(**fields):
        return True
    if PeriodicJobClaim.objects.filter(name=name).exists():
        return False
    try:
        with transaction.atomic():
            PeriodicJobClaim.objects.create(name=name, **fields)
    except IntegrityError:  # another worker inserted it first: theirs is this interval's run
        return False
    return True


def claim(name: str, every: int) -> bool:
    """The cache first (no query once this interval's key is taken), then the database row."""
    try:
        fresh = cache.add(f"periodic:{name}", 1, timeout=every)
    except CacheUnavailable:
        fresh = _local.add(f"periodic:{name}", 1, timeout=every)
    if not fresh:
        return False
    try:
        return claim_row(name, every)
    except DatabaseError:
        logger.warning("periodic job %s: claim row unreachable, the cache's claim decides", name)
        return True


def run_due() -> int:
    """Run every job whose interval has elapsed; returns how many ran. A failing job is logged and
    retried at its next interval, never allowed to stop the worker."""
    ran = 0
    for name, every, job in jobs():
        if not claim(name, every):
            continue
        try:
            job()
            ran += 1
        except Exception:
            logger.exception("periodic job %s failed", name)
    return ran
