"""OAuth2 client authentication with a signed JWT (`private_key_jwt`, RFC 7523, as SMART Backend
Services asks), on top of django-oauth-toolkit's secret-based methods.

The assertion must name its key (`kid`) and be signed by that key of the client's JWKS (registered, or
fetched from its registered `jwks_uri` on an allow-listed host, cached), name the client as `iss` and
`sub` and this token endpoint as `aud`, be valid now (`exp` and `nbf` with a few seconds' leeway at
most), expire within five minutes, and carry a `jti` never seen before (kept in the cache until the
assertion expires). A client registered with keys authenticates with them only: no shared secret."""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from jwcrypto import jwk, jwt
from jwcrypto.common import JWException
from oauth2_provider.oauth2_validators import OAuth2Validator

from creneau.core import suspension

from . import jwks as remote_jwks
from .models import ApiClientKey

logger = logging.getLogger(__name__)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ["RS384", "ES384", "RS256", "ES256"]
MAX_LIFETIME = 300
# Clock skew tolerated on `exp` and `nbf`, in seconds (jwcrypto's default is a full minute).
LEEWAY = 5


def _unverified_claims(assertion: str) -> dict[str, Any]:
    token = jwt.JWT(jwt=assertion, expected_type="JWS")
    payload = token.token.objects.get("payload")
    claims = json.loads(payload) if payload else {}
    return claims if isinstance(claims, dict) else {}


def _unverified_kid(assertion: str) -> str:
    token = jwt.JWT(jwt=assertion, expected_type="JWS")
    kid = token.token.jose_header.get("kid")
    return kid if isinstance(kid, str) else ""


def client_keys(stored: ApiClientKey, kid: str) -> jwk.JWKSet | None:
    """The client's key set holding `kid`: the registered JWKS, or the one at its `jwks_uri` (cached;
    fetched again, at most once a minute, when a new `kid` appears: the client rotated its keys)."""
    if stored.jwks_uri:
        keys = remote_jwks.key_set(stored.jwks_uri)
        if keys is not None and keys.get_key(kid) is None:
            keys = remote_jwks.key_set(stored.jwks_uri, refresh=True)
    else:
        keys = jwk.JWKSet.from_json(json.dumps(stored.jwks or {"keys": []}))
    return keys if keys is not None and keys.get_key(kid) is not None else None


def verify_assertion(assertion: str, *, audiences: set[str]) -> str | None:
    """The client id the assertion authenticates, or None."""
    try:
        client_id = str(_unverified_claims(assertion).get("iss", ""))
        kid = _unverified_kid(assertion)
        stored = ApiClientKey.objects.select_related("application").filter(application__client_id=client_id).first()
        if not client_id or not kid or stored is None:
            return None  # an assertion must say which of the client's keys signed it
        keys = client_keys(stored, kid)
        if keys is None:
            return None
        verified = jwt.JWT(
            algs=ALGORITHMS,
            expected_type="JWS",
            check_claims={"iss": client_id, "sub": client_id, "exp": None, "jti": None},
        )
        verified.leeway = LEEWAY
        verified.deserialize(assertion, keys)
        claims = json.loads(verified.claims)
        aud = claims.get("aud")
        if not (set(aud) if isinstance(aud, list) else {aud}) & audiences:
            return None
    except (JWException, ValueError, TypeError, KeyError):
        return None
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or exp > now + MAX_LIFETIME or exp < now - LEEWAY:
        return None
    if nbf is not None and (not isinstance(nbf, int | float) or nbf > now + LEEWAY):
        return None  # not valid yet
    jti = hashlib.sha256(f"{client_id}\x00{claims['jti']}".encode()).hexdigest()
    if not cache.add(f"fhir:jti:{jti}", 1, timeout=int(exp - now) + 60):
        return None  # replayed
    return client_id


def _token_urls(request: Any) -> set[str]:
    """This token endpoint's URL as the client may name it: as reached, or under the public URL."""
    path = str(request.uri).split("?", 1)[0]
    headers = request.headers or {}
    host = headers.get("HTTP_HOST") or ""
    if not host and headers.get("SERVER_NAME"):
        port = str(headers.get("SERVER_PORT", ""))
        host = headers["SERVER_NAME"] + ("" if port in ("", "80", "443") else f":{port}")
    urls = {f"{scheme}://{host}{path}" for scheme in ("https", "http")} if host else set()
    public = getattr(settings, "CRENEAU_PUBLIC_URL", "")
    if public:
        urls.add(public.rstrip("/") + path)
    return urls


# The suspended client a token request authenticated as, for the token view to answer "suspended".
SUSPENDED_CLIENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("suspended_client", default=None)


class SmartOAuth2Validator(OAuth2Validator):
    """Adds private_key_jwt client authentication to the toolkit's validator, and refuses a suspended
    client (correct credentials, but no token)."""

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        if not self._authenticate_client(request, *args, **kwargs):
            return False
        client = getattr(request, "client", None)
        client_id = getattr(client, "client_id", None)
        if client_id and suspension.is_suspended(f"client:{client_id}"):
            SUSPENDED_CLIENT.set(str(client_id))
            return False
        return True

    def _authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        body = dict(request.decoded_body or [])
        if body.get("client_assertion_type") != JWT_BEARER:
            if not super().authenticate_client(request, *args, **kwargs):
                return False
            # A client registered with keys has no working secret (whatever was stored for it).
            client = getattr(request, "client", None)
            if client is not None and ApiClientKey.objects.filter(application_id=client.pk).exists():
                logger.info("fhir: refused a shared secret for a key-registered client")
                return False
            return True
        client_id = verify_assertion(str(body.get("client_assertion", "")), audiences=_token_urls(request))
        if client_id is None:
            logger.info("fhir: rejected client assertion")
            return False
        return self._load_application(client_id, request) is not None
