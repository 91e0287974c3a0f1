"""Periodic maintenance run by the background worker: each job at most once per interval across all
workers (the first to take the cache key runs it; with Redis the key is shared between machines).

While Redis is unreachable each worker process keeps its own intervals: every job still runs, once per
interval per worker instead of once overall (they are all safe to overlap), until Redis is back."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache

from creneau.core.cache import CacheUnavailable

logger = logging.getLogger("creneau.periodic")
# This process's own claims, used while the shared cache is unavailable.
_local = LocMemCache("creneau-periodic-fallback", {})


def _seal() -> object:
    """Seal new audit events and publish the new chain head to the anchor sinks (docs/audit.md)."""
    from creneau.audit.services import audit_seal

    return audit_seal()


def _detection_window() -> object:
    from creneau.audit.detection import detection_window_prune

    return detection_window_prune()


def _availability() -> object:
    from creneau.directory.models import Practitioner
    from creneau.scheduling.services import availability_refresh

    ids = list(Practitioner.objects.filter(is_active=True).values_list("pk", flat=True))
    return sum(availability_refresh(practitioner_ids=ids[i : i + 200]) for i in range(0, len(ids), 200))


def _retention() -> object:
    from creneau.patients.retention import retention_run

    return retention_run()


# (name, seconds between runs, job)
JOBS: list[tuple[str, int, Callable[[], object]]] = [
    ("audit-seal", settings.CRENEAU_AUDIT_SEAL_SECONDS, _seal),
    ("detection-window-prune", 3600, _detection_window),
    ("availability-refresh", 300, _availability),
    ("retention", 86400, _retention),
]


def run_due() -> int:
    """Run every job whose interval has elapsed; returns how many ran. A failing job is logged and
    retried at its next interval, never allowed to stop the worker."""
    ran = 0
    for name, every, job in JOBS:
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
