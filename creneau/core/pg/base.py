"""PostgreSQL backend: Django's, with a fail-fast breaker on connecting.

When the server cannot be reached (a direct connection refused, or the pool timing out while its own
attempts to connect fail), every further attempt in this process fails at once for DB_BREAKER_SECONDS
instead of waiting the pool timeout again, so that a request touching the database several times (or a
queue of requests) is answered 503 within one timeout, not one per attempt. A pool that is merely busy
(every connection in use, none failing) does not trip it: that wait is the pool's own back-pressure.
The first attempt after the pause goes through normally: recovery needs nothing but the server."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import psycopg
import psycopg_pool
from django.db.backends.postgresql import base

BREAKER_SECONDS = float(os.environ.get("DB_BREAKER_SECONDS", "1.0"))


class Breaker:
    """Open for a short while after a failed connection attempt (per process, all threads)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._open_until = 0.0
        self._lock = threading.Lock()
        self._pool_errors_seen: dict[int, int] = {}

    def server_failing(self, pool: Any) -> bool:
        """True when the pool failed to open a connection since we last looked (the server is refusing
        or gone), False when it timed out only because every connection was busy."""
        errors = int(pool.get_stats().get("connections_errors", 0))
        with self._lock:
            seen = self._pool_errors_seen.get(id(pool), 0)
            self._pool_errors_seen[id(pool)] = errors
        return errors > seen

    def check(self) -> None:
        if time.monotonic() < self._open_until:
            raise psycopg.OperationalError("database unavailable (failing fast after a failed connection)")

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + self.seconds


breaker = Breaker(BREAKER_SECONDS)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        breaker.check()
        try:
            return super().get_new_connection(conn_params)
        except psycopg_pool.PoolTimeout:
            if breaker.server_failing(self.pool):
                breaker.trip()
            raise
        except psycopg.OperationalError:
            breaker.trip()
            raise
