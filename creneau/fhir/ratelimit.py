"""A fixed-window counter in the cache (atomic `add` + `incr`), for anonymous API reads.

Kept tiny and local: the key is a keyed hash of the client address, so no address reaches the cache."""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings
from django.core.cache import cache


def hit(bucket: str, who: str, *, limit: int, window: int) -> tuple[bool, int]:
    """Count one request; returns (allowed, seconds until the window resets)."""
    now = int(time.time())
    start = now - now % window
    digest = hmac.new(settings.SECRET_KEY.encode(), who.encode(), hashlib.sha256).hexdigest()[:24]
    key = f"rl:{bucket}:{digest}:{start}"
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.add(key, 1, timeout=window + 1)
        count = 1
    return count <= limit, start + window - now
