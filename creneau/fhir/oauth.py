"""OAuth2 client authentication with a signed JWT (`private_key_jwt`, RFC 7523, as SMART Backend
Services asks), on top of django-oauth-toolkit's secret-based methods.

The assertion must be signed by a key of the client's registered JWKS, name the client as `iss` and
`sub` and this token endpoint as `aud`, expire within five minutes, and carry a `jti` never seen before
(kept in the cache until the assertion expires)."""

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

from .models import ApiClientKey

logger = logging.getLogger(__name__)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ["RS384", "ES384", "RS256", "ES256"]
MAX_LIFETIME = 300


def _unverified_claims(assertion: str) -> dict[str, Any]:
    token = jwt.JWT(jwt=assertion, expected_type="JWS")
    payload = token.token.objects.get("payload")
    claims = json.loads(payload) if payload else {}
    return claims if isinstance(claims, dict) else {}


def verify_assertion(assertion: str, *, audiences: set[str]) -> str | None:
    """The client id the assertion authenticates, or None."""
    try:
        client_id = str(_unverified_claims(assertion).get("iss", ""))
        stored = ApiClientKey.objects.select_related("application").filter(application__client_id=client_id).first()
        if not client_id or stored is None:
            return None
        keys = jwk.JWKSet.from_json(json.dumps(stored.jwks))
        verified = jwt.JWT(
            jwt=assertion,
            key=keys,
            algs=ALGORITHMS,
            expected_type="JWS",
            check_claims={"iss": client_id, "sub": client_id, "exp": None, "jti": None},
        )
        claims = json.loads(verified.claims)
        aud = claims.get("aud")
        if not (set(aud) if isinstance(aud, list) else {aud}) & audiences:
            return None
    except (JWException, ValueError, TypeError, KeyError):
        return None
    now = time.time()
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp > now + MAX_LIFETIME:
        return None
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
            return bool(super().authenticate_client(request, *args, **kwargs))
        client_id = verify_assertion(str(body.get("client_assertion", "")), audiences=_token_urls(request))
        if client_id is None:
            logger.info("fhir: rejected client assertion")
            return False
        return self._load_application(client_id, request) is not None
