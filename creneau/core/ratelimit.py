"""Rate limits and lockouts on atomic counters.

A `Limit` allows `limit` hits per `window` seconds for one key (an IP, an account, an actor). Counters
are fixed windows in the Django cache: with Redis (REDIS_URL) one atomic script per hit (INCR, and EXPIRE
on a window's first hit), so concurrent requests on any number of processes cannot slip past the limit;
with the local-memory cache (development, tests) `incr` runs under the cache's lock, so the guarantee
holds within the process. Never a read-modify-write. Keys are HMACs: no email or IP address ever reaches a cache key.

When Redis is unreachable (creneau.core.cache degrades it), limits fall back by what they protect:

- limits on addresses and actors (search, sign-up, holds, the FHIR API...) count in the process's own
  memory: each process enforces the limit by itself, so the effective limit is multiplied by the number
  of processes for the length of the outage, and never blocks anyone wrongly;
- limits that protect accounts (`ACCOUNT_LIMITS`: sign-in failures per account and lockouts, second
  factor attempts, password resets per account) fail closed: `CacheUnavailable`, answered 503 with
  Retry-After (creneau.core.failures), because a per-process count would multiply the guesses an
  attacker gets at one account.

Both recover by themselves when Redis answers again.

Limits are named; `CRENEAU_RATE_LIMITS` overrides any of them as {"name": (limit, window_seconds)}."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from redis.exceptions import NoScriptError

from creneau.core import clock
from creneau.core.cache import REDIS_ERRORS, CacheUnavailable, redis_client
from creneau.core.errors import DomainError


class RateLimited(DomainError):
    """Too many attempts in a short time: the caller should wait."""

    code = "rate-limited"
    http_status = 429


@dataclass(frozen=True)
class Limit:
    name: str
    limit: int
    window: int  # seconds


DEFAULTS: dict[str, tuple[int, int]] = {
    # Sign-in: failures per typed email over all addresses (existing account or not) and per address.
    "login-account": (100, 15 * 60),
    "login-ip": (50, 15 * 60),
    "signup-ip": (10, 60 * 60),
    "password-reset-ip": (5, 60 * 60),
    "password-reset-account": (3, 60 * 60),
    "search-ip": (120, 60),
    # OAuth2 token requests, counted before the client is authenticated (fhir/token.py).
    "token-ip": (60, 60),
    "token-client": (20, 60),
    "hold-actor": (10, 60 * 60),
    # FHIR requests per API client (published in the CapabilityStatement; RateLimit-* headers).
    "fhir-client": (600, 60),
    # Second-factor codes: per account and address, and per account over all addresses.
    "mfa-source": (5, 5 * 60),
    "mfa-user": (30, 5 * 60),
    # Sign-in: per typed email and address, free failures before a doubling delay (accounts/throttle.py).
    "login-source": (5, 24 * 3600),
    # Passkey ceremonies (options and answers), per address: a signature cannot be guessed, this only
    # bounds the work one address can cause.
    "passkey-ip": (60, 5 * 60),
    # Phone confirmation codes sent by SMS, per account.
    "phone-code-send": (3, 60 * 60),
}
# How long an account stays locked once `login-account` is exceeded.
LOCKOUT_SECONDS = 15 * 60
# Limits that protect accounts: with Redis down they fail closed (503), never per process.
ACCOUNT_LIMITS = frozenset(
    {"login-account", "login-source", "mfa-user", "mfa-source", "password-reset-account", "account-counter"}
)
# Per-process counters used while Redis is down, for every other limit.
_local = LocMemCache("creneau-ratelimit-fallback", {"OPTIONS": {"MAX_ENTRIES": 100_000}})


def get(name: str) -> Limit:
    overrides: dict[str, tuple[int, int]] = getattr(settings, "CRENEAU_RATE_LIMITS", {}) or {}
    limit, window = overrides.get(name, DEFAULTS[name])
    return Limit(name, limit, window)


def _digest(value: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _cache_key(limit: Limit, key: str) -> str:
    window_no = int(clock.now().timestamp()) // limit.window
    return f"rl:{limit.name}:{_digest(key)}:{window_no}"


# INCR, and the window's expiry on its first hit, as one atomic command (one round trip, no MULTI/EXEC).
_INCR_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
_INCR_SHA = hashlib.sha1(_INCR_SCRIPT.encode(), usedforsecurity=False).hexdigest()  # Redis names scripts so


def _local_incr(store: Any, cache_key: str, timeout: int) -> int:
    store.add(cache_key, 0, timeout)
    try:
        return int(store.incr(cache_key))
    except ValueError:  # expired between add and incr: start the window again
        store.add(cache_key, 0, timeout)
        return int(store.incr(cache_key))


def _redis_down(name: str) -> None:
    """Redis is unreachable for limit `name`: fail closed for account limits (the caller falls back to
    per-process counters for the others)."""
    if name in ACCOUNT_LIMITS:
        raise CacheUnavailable(f"rate limit {name} needs Redis")


def _incr(cache_key: str, timeout: int, name: str = "") -> int:
    client = redis_client()
    if client is not None:
        backend = caches["default"]
        if client.available:
            redis = client.get_client(cache_key, write=True)
            full_key = backend.make_and_validate_key(cache_key)
            try:
                try:
                    return int(redis.evalsha(_INCR_SHA, 1, full_key, timeout))
                except NoScriptError:  # a fresh or flushed Redis: send the script itself (Redis keeps it)
                    return int(redis.eval(_INCR_SCRIPT, 1, full_key, timeout))
            except REDIS_ERRORS as exc:
                client.trip(exc)
        _redis_down(name)
        return _local_incr(_local, cache_key, timeout)
    return _local_incr(cache, cache_key, timeout)


def hit(limit: Limit, key: str) -> int:
    """Count one hit and return the count in the current window (atomic)."""
    return _incr(_cache_key(limit, key), limit.window + 1, limit.name)


def count(limit: Limit, key: str) -> int:
    cache_key = _cache_key(limit, key)
    client = redis_client()
    if client is None:
        return int(cache.get(cache_key, 0))
    if client.available:
        value = cache.get(cache_key, 0)
        if client.available:  # else the read failed: Redis just went away
            return int(value)
    _redis_down(limit.name)
    return int(_local.get(cache_key, 0))


def allow(limit: Limit, key: str) -> bool:
    """Count one hit; True while within the limit."""
    return hit(limit, key) <= limit.limit


def enforce(name: str, key: str) -> None:
    """Count one hit; raise RateLimited past the limit."""
    lim = get(name)
    if not allow(lim, key):
        raise RateLimited(
            _("Too many attempts in a short time. Please wait %(minutes)s minutes and try again.")
            % {"minutes": max(1, lim.window // 60)}
        )


def reset(name: str, key: str) -> None:
    cache.delete(_cache_key(get(name), key))


# --- reservations: count an attempt before doing the costly check ----------------------------------------
@dataclass(frozen=True)
class Reservation:
    """One counted attempt, in the window it was counted in (a refund goes back to that window)."""

    cache_key: str


def reserve(limit: Limit, key: str) -> Reservation | None:
    """Count one attempt *before* the work it guards (a password hash...): None past the limit (the
    attempt is not kept), so N simultaneous attempts never run more than `limit` checks."""
    cache_key = _cache_key(limit, key)
    if _incr(cache_key, limit.window + 1, limit.name) <= limit.limit:
        return Reservation(cache_key)
    _decr(cache_key)
    return None


def refund(reservation: Reservation | None) -> None:
    """Give an attempt back (it succeeded, or was refused by another limit before being checked)."""
    if reservation is not None:
        _decr(reservation.cache_key)


# DECR only an existing counter: one that expired meanwhile must not come back without an expiry.
_DECR_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
"""


def _decr(cache_key: str) -> None:
    client = redis_client()
    if client is not None:
        if client.available:
            backend = caches["default"]
            try:
                client.get_client(cache_key, write=True).eval(_DECR_SCRIPT, 1, backend.make_and_validate_key(cache_key))
                return
            except REDIS_ERRORS as exc:
                client.trip(exc)
        with contextlib.suppress(ValueError):  # counted in this process while Redis was down, or not at all
            _local.decr(cache_key)
        return
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing to give back
        cache.decr(cache_key)


def counter_incr(cache_key: str, timeout: int) -> int:
    """Atomic counter under a caller-built key (already an HMAC digest), expiring `timeout` seconds
    after its first hit. These counters protect accounts: with Redis down, CacheUnavailable (503)."""
    return _incr(cache_key, timeout, "account-counter")


def counter_decr(cache_key: str) -> None:
    _decr(cache_key)


def digest(value: str) -> str:
    """The HMAC that stands for an email, an address or a pair of them in cache keys."""
    return _digest(value)


# --- lockouts -------------------------------------------------------------------------------------------
def _lock_key(name: str, key: str) -> str:
    return f"rl-lock:{name}:{_digest(key)}"


def _require_redis() -> None:
    """Lockouts have no per-process fallback: one that cannot be read or written must not let attempts
    through (CacheUnavailable). Checked after the call, so it costs no extra round trip."""
    client = redis_client()
    if client is not None and not client.available:
        raise CacheUnavailable("lockouts need Redis")


def lock(name: str, key: str, seconds: int = LOCKOUT_SECONDS) -> None:
    _require_redis()
    cache.set(_lock_key(name, key), 1, seconds)
    _require_redis()


def is_locked(name: str, key: str) -> bool:
    _require_redis()
    locked = bool(cache.get(_lock_key(name, key)))
    _require_redis()
    return locked


def unlock(name: str, key: str) -> None:
    cache.delete(_lock_key(name, key))
    reset(name, key)


# --- views ------------------------------------------------------------------------------------------------
def client_ip(request: HttpRequest) -> str:
    """The client address. Behind a proxy, set CRENEAU_TRUSTED_PROXY_HEADER (e.g. HTTP_X_REAL_IP) to the
    header the proxy overwrites; a client-supplied X-Forwarded-For is never trusted by default."""
    header = getattr(settings, "CRENEAU_TRUSTED_PROXY_HEADER", "")
    if header and request.META.get(header):
        return str(request.META[header]).split(",")[0].strip()
    return str(request.META.get("REMOTE_ADDR", ""))


TOO_MANY = gettext_lazy("Too many requests in a short time. Please wait a few minutes and try again.")


def limited_response(request: HttpRequest, message: Any = TOO_MANY) -> HttpResponse:
    return render(request, "core/rate_limited.html", {"message": message}, status=429)


def ratelimit(name: str, *, methods: tuple[str, ...] = ("POST",)) -> Callable[[Callable[..., HttpResponseBase]], Any]:
    """View decorator: count requests per client IP (for `methods`) and answer 429 past the limit."""

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method in methods and not allow(get(name), client_ip(request)):
                return limited_response(request)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
