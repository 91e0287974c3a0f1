"""Django's Redis cache backend, made an accelerator rather than a dependency.

Two changes to `django.core.cache.backends.redis.RedisCache`:

- One Redis client object per connection pool. Django builds a new `redis.Redis` for every cache call;
  with redis-py 6+ that constructor alone costs ~0.2 ms (it fills a table of response callbacks), more
  than the network round trip. A client object is thread-safe and only borrows connections from its pool.
- **Redis outages degrade instead of failing.** Connections have short timeouts and no retry loop with
  backoff. When Redis does not answer, the process stops asking for `DOWN_SECONDS` (a circuit breaker:
  no request pays a timeout twice in a row), then tries again, so recovery is automatic. Meanwhile the
  cache behaves as an empty cache that stores nothing: reads miss (callers compute, sessions read the
  database), writes and deletes are dropped and remembered, and the remembered keys are deleted as soon
  as Redis answers again, so that a value written or deleted during the outage cannot come back stale
  afterwards (a session signed out, an availability version bumped). Operations whose result *means*
  something beyond caching, `add` (a claim, a replay guard) and `incr` (a counter), raise
  `CacheUnavailable` instead: their callers choose their own fallback (creneau.core.ratelimit,
  creneau.core.periodic), and an unhandled one is answered 503 (creneau.core.failures), never 500."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.core.cache import caches
from django.core.cache.backends import redis as django_redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

logger = logging.getLogger("creneau.cache")

# How long a process leaves Redis alone after a failed call before trying again.
DOWN_SECONDS = 2.0
# Connection defaults (overridable in CACHES OPTIONS): Redis answers in well under a millisecond, so a
# call that takes longer than this is a Redis that is gone, not a slow one.
SOCKET_CONNECT_TIMEOUT = 0.5
SOCKET_TIMEOUT = 0.5
# Keys written or deleted during an outage, to delete when Redis is back; past this many, the rest are
# only logged (their entries expire by themselves: every key creneau writes has an expiry).
MAX_REMEMBERED_KEYS = 50_000

REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

T = TypeVar("T")


class CacheUnavailable(Exception):
    """The shared cache (Redis) does not answer; raised only by operations with no safe fallback."""


class PooledClientRedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, servers: Any, **options: Any) -> None:
        options.setdefault("socket_connect_timeout", SOCKET_CONNECT_TIMEOUT)
        options.setdefault("socket_timeout", SOCKET_TIMEOUT)
        # One immediate retry on a fresh connection (a pooled one may have been closed by a Redis
        # restart), no exponential backoff: an outage must cost milliseconds, not seconds.
        options.setdefault("retry", Retry(NoBackoff(), 1))
        super().__init__(servers, **options)
        self._clients: dict[int, Any] = {}
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._stale: set[str] = set()
        self._outage_started: float | None = None

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)  # type: ignore[attr-defined]
        client = self._clients.get(index)
        if client is None:
            pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
            client = self._clients[index] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client

    # --- the circuit breaker ------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """False while this process considers Redis down (until the next try)."""
        return time.monotonic() >= self._down_until

    def trip(self, exc: BaseException) -> None:
        """Record a failed call: leave Redis alone for DOWN_SECONDS."""
        with self._lock:
            self._down_until = time.monotonic() + DOWN_SECONDS
            if self._outage_started is None:
                self._outage_started = time.monotonic()
                logger.warning("Redis unavailable (%s): cache degraded to misses", type(exc).__name__)

    def _remember(self, keys: Any) -> None:
        with self._lock:
            for key in keys:
                if len(self._stale) >= MAX_REMEMBERED_KEYS:
                    logger.warning("Redis unavailable: too many keys written during the outage to track")
                    return
                self._stale.add(key)

    def _recover(self) -> None:
        """Redis answers again (or is about to be tried): delete what changed during the outage before
        anything is read, then log the recovery. Raises a Redis error if Redis is still gone."""
        with self._lock:
            stale, self._stale = self._stale, set()
        if stale:
            try:
                self.get_client(write=True).delete(*stale)
            except REDIS_ERRORS:
                self._remember(stale)
                raise
        with self._lock:
            started, self._outage_started = self._outage_started, None
        if started is not None:
            logger.warning("Redis available again after %.1f s", time.monotonic() - started)

    def guarded(self, call: Callable[[], T], fallback: Callable[[], T], *, stale: Any = ()) -> T:
        """`call()` against Redis; `fallback()` if Redis is down or fails now. `stale`: the keys the
        call would have changed, to delete once Redis answers again."""
        if not self.available:
            self._remember(stale)
            return fallback()
        try:
            if self._outage_started is not None or self._stale:
                self._recover()
            return call()
        except REDIS_ERRORS as exc:
            self.trip(exc)
            self._remember(stale)
            return fallback()

    def _unavailable(self) -> Any:
        raise CacheUnavailable("Redis is unavailable")

    # --- operations ---------------------------------------------------------------------------------------
    def get(self, key: Any, default: Any) -> Any:
        return self.guarded(lambda: super(PooledClientRedisCacheClient, self).get(key, default), lambda: default)

    def get_many(self, keys: Any) -> Any:
        return self.guarded(lambda: super(PooledClientRedisCacheClient, self).get_many(keys), dict)

    def has_key(self, key: Any) -> Any:
        return self.guarded(lambda: super(PooledClientRedisCacheClient, self).has_key(key), lambda: False)

    def set(self, key: Any, value: Any, timeout: Any) -> Any:
        return self.guarded(
            lambda: super(PooledClientRedisCacheClient, self).set(key, value, timeout), lambda: None, stale=[key]
        )

    def set_many(self, data: Any, timeout: Any) -> Any:
        return self.guarded(
            lambda: super(PooledClientRedisCacheClient, self).set_many(data, timeout), lambda: None, stale=list(data)
        )

    def touch(self, key: Any, timeout: Any) -> Any:
        return self.guarded(lambda: super(PooledClientRedisCacheClient, self).touch(key, timeout), lambda: False)

    def delete(self, key: Any) -> Any:
        return self.guarded(lambda: super(PooledClientRedisCacheClient, self).delete(key), lambda: False, stale=[key])

    def delete_many(self, keys: Any) -> Any:
        keys = list(keys)
        return self.guarded(
            lambda: super(PooledClientRedisCacheClient, self).delete_many(keys), lambda: None, stale=keys
        )

    def clear(self) -> Any:
        return self.guarded(lambda: super(PooledClientRedisCacheClient, self).clear(), lambda: False)

    def add(self, key: Any, value: Any, timeout: Any) -> Any:
        return self.guarded(
            lambda: super(PooledClientRedisCacheClient, self).add(key, value, timeout), self._unavailable
        )

    def incr(self, key: Any, delta: Any) -> Any:
        return self.guarded(lambda: super(PooledClientRedisCacheClient, self).incr(key, delta), self._unavailable)


class RedisCache(django_redis.RedisCache):
    """`django.core.cache.backends.redis.RedisCache` reusing its client objects and degrading to an empty
    cache while Redis is unreachable (see the module docstring)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = PooledClientRedisCacheClient

    @property
    def client(self) -> PooledClientRedisCacheClient:
        return cast(PooledClientRedisCacheClient, self._cache)


def redis_client(alias: str = "default") -> PooledClientRedisCacheClient | None:
    """The degrading Redis client behind a cache alias, or None when that cache is not Redis."""
    backend = caches[alias]
    return backend.client if isinstance(backend, RedisCache) else None


def redis_status(alias: str = "default") -> str:
    """'absent' (no Redis configured), 'up' or 'down', pinging Redis (for /readyz)."""
    client = redis_client(alias)
    if client is None:
        return "absent"
    up = client.guarded(lambda: bool(client.get_client(write=True).ping()), lambda: False)
    return "up" if up else "down"
