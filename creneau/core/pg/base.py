"""PostgreSQL backend: Django's, with a fail-fast breaker on connecting.

When a connection cannot be had (server refused, pool exhausted past DB_POOL_TIMEOUT), every further
attempt in this process fails at once for DB_BREAKER_SECONDS instead of waiting the pool timeout again,
so that a request touching the database several times (or a queue of requests) is answered 503 within
one timeout, not one per attempt. The first attempt after the pause goes through normally: recovery
needs nothing but the server coming back."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import psycopg
from django.db.backends.postgresql import base

BREAKER_SECONDS = float(os.environ.get("DB_BREAKER_SECONDS", "1.0"))


class Breaker:
    """Open for a short while after a failed connection attempt (per process, all threads)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._open_until = 0.0
        self._lock = threading.Lock()

    def check(self) -> None:
        if time.monotonic() < self._open_until:
            raise psycopg.OperationalError("database unavailable (failing fast after a failed connection)")

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + self.seconds

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


breaker = Breaker(BREAKER_SECONDS)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        breaker.check()
        try:
            return super().get_new_connection(conn_params)
        except psycopg.OperationalError:
            breaker.trip()
            raise
