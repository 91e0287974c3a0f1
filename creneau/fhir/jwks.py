"""A client's public keys fetched from its `jwks_uri` (SMART Backend Services' preferred registration).

Only hosts named in CRENEAU_JWKS_ALLOWED_HOSTS are ever fetched (registration refuses the others, and
so does the fetch: no request to an arbitrary address from our network), over https unless
CRENEAU_JWKS_ALLOW_HTTP (development, tests), without following redirects, with a short timeout and a
size cap. A key set is cached CRENEAU_JWKS_CACHE_SECONDS; a forced refresh (an unknown `kid`: the
client rotated its keys) happens at most once a minute per URL. Anything that goes wrong is "no keys"
(the assertion is refused), never an error answer."""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.conf import settings
from django.core.cache import cache
from jwcrypto import jwk
from jwcrypto.common import JWException

from creneau.core.cache import CacheUnavailable

logger = logging.getLogger(__name__)

MAX_BYTES = 64 * 1024
TIMEOUT_SECONDS = 3
REFRESH_SECONDS = 60


def allowed(uri: str) -> bool:
    """The URL is one we may fetch: https (or http where allowed) on an allow-listed host."""
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError:
        return False
    schemes = {"https", "http"} if getattr(settings, "CRENEAU_JWKS_ALLOW_HTTP", False) else {"https"}
    hosts = {h.lower() for h in getattr(settings, "CRENEAU_JWKS_ALLOWED_HOSTS", [])}
    host = (parts.hostname or "").lower()
    return parts.scheme in schemes and bool(host) and host in hosts and not parts.username


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect could point anywhere: treated as a failure


_opener = urllib.request.build_opener(_NoRedirect)


def _fetch(uri: str) -> dict[str, Any] | None:
    if not allowed(uri):
        return None
    request = urllib.request.Request(uri, headers={"Accept": "application/json"})  # noqa: S310 (allow-listed)
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            if response.status != 200:
                return None
            raw = response.read(MAX_BYTES + 1)
    except (urllib.error.URLError, TimeoutError, OSError, ValueError):
        logger.info("fhir: a client's jwks_uri could not be fetched")
        return None
    if len(raw) > MAX_BYTES:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _key(uri: str) -> str:
    return "fhir:jwks:" + hashlib.sha256(uri.encode()).hexdigest()[:32]


def _claim_refresh(uri: str) -> bool:
    """True when no refresh of `uri` happened in the last minute (without Redis: never refresh)."""
    try:
        return bool(cache.add(_key(uri) + ":refresh", 1, REFRESH_SECONDS))
    except CacheUnavailable:
        return False


def key_set(uri: str, *, refresh: bool = False) -> jwk.JWKSet | None:
    """The public key set at `uri` (cached), or None when it cannot be fetched or is not one."""
    data = None if refresh else cache.get(_key(uri))
    if data is None:
        if refresh and not _claim_refresh(uri):
            data = cache.get(_key(uri))  # refreshed a moment ago: use what we have
        else:
            data = _fetch(uri)
            if data is not None:
                cache.set(_key(uri), data, getattr(settings, "CRENEAU_JWKS_CACHE_SECONDS", 300))
    if data is None:
        return None
    try:
        keys = jwk.JWKSet.from_json(json.dumps(data))
    except (JWException, ValueError, TypeError):
        return None
    if any(k.has_private for k in keys):
        return None  # never sign-check with a published private key
    return keys
