"""Periodic maintenance run by the background worker: each job at most once per interval across all
workers (the first to take the cache key runs it; with Redis the key is shared between machines).

While Redis is unreachable each worker process keeps its own intervals: every job still runs, once per
interval per worker instead of once overall (they are all safe to overlap), until Redis is back."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from creneau.core.cache import CacheUnavailable

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


def run_due() -> int:
    """Run every job whose interval has elapsed; returns how many ran. A failing job is logged and
    retried at its next interval, never allowed to stop the worker."""
    ran = 0
    for name, every, job in jobs():
        try:
            claimed = cache.add(f"periodic:{name}", 1, timeout=every)
        except CacheUnavailable:
            claimed = _local.add(f"periodic:{name}", 1, timeout=every)
        if not claimed:
            continue
        try:
            job()
            ran += 1
        except Exception:
            logger.exception("periodic job %s failed", name)
    return ran
