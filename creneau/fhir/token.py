"""The OAuth2 token endpoint, rate limited before any client authentication is evaluated.

Checking a client secret costs a password hash and verifying an assertion a signature: without a limit,
200 simultaneous wrong-secret requests were all evaluated and 200 right-secret requests minted 200
tokens. Each request is counted first per client address and per claimed client id (the Basic user,
the `client_id` field or the assertion's unverified issuer: counted, never trusted); past either limit
the answer is 429 with an OAuth-style JSON error and `Retry-After`, and nothing is evaluated.
A suspended client that authenticates correctly gets no token: 403 with `"reason": "suspended"`."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _
from jwcrypto.common import JWException
from oauth2_provider import views as oauth2_views

from creneau.core import outcomes, ratelimit, suspension
from creneau.core.actors import Actor, ActorKind, Channel

from .oauth import JWT_BEARER, SUSPENDED_CLIENT, _unverified_claims


def claimed_client_id(request: HttpRequest) -> str:
    """The client id a token request claims, before any authentication ("" when it claims none)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:6].lower() == "basic ":
        try:
            user = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return ""
        return unquote(user)[:200]
    if request.POST.get("client_id"):
        return str(request.POST["client_id"])[:200]
    if request.POST.get("client_assertion_type") == JWT_BEARER:
        try:
            return str(_unverified_claims(str(request.POST.get("client_assertion", ""))).get("iss", ""))[:200]
        except (JWException, ValueError, TypeError, KeyError, json.JSONDecodeError):
            return ""
    return ""


def too_many(limit: ratelimit.Limit) -> HttpResponse:
    response = JsonResponse(
        {
            "error": "rate_limited",
            "error_description": _("Too many token requests in a short time. Please wait and try again."),
        },
        status=429,
    )
    response["Retry-After"] = str(limit.window)
    response["Cache-Control"] = "no-store"
    return response


def refused_suspended(request: HttpRequest, client_id: str) -> HttpResponse:
    """Right credentials, suspended client: no token, a 403 that says why (one audit event)."""
    ip = ratelimit.client_ip(request)
    actor = Actor(kind=ActorKind.API_CLIENT, channel=Channel.API, api_client_id=client_id, ip=ip)
    suspension.record_refusal(actor, via="fhir-token")
    response = JsonResponse(
        {"error": "unauthorized_client", "error_description": str(suspension.MESSAGE), "reason": suspension.REASON},
        status=403,
    )
    response[suspension.REASON_HEADER] = suspension.REASON
    response["Cache-Control"] = "no-store"
    return response


class TokenView(oauth2_views.TokenView):
    """django-oauth-toolkit's token endpoint behind per-address and per-client limits."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Our own error descriptions in the language of Accept-Language (French by default).
        language = outcomes.negotiated_language(request)
        with translation.override(language):
            response = self._post(request, *args, **kwargs)
        response["Content-Language"] = language
        return response

    def _post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        per_address = ratelimit.get("token-ip")
        if not ratelimit.allow(per_address, ratelimit.client_ip(request)):
            return too_many(per_address)
        per_client = ratelimit.get("token-client")
        if not ratelimit.allow(per_client, claimed_client_id(request)):
            return too_many(per_client)
        marker = SUSPENDED_CLIENT.set(None)
        try:
            response = super().post(request, *args, **kwargs)
            suspended = SUSPENDED_CLIENT.get()
        finally:
            SUSPENDED_CLIENT.reset(marker)
        if suspended is not None:
            return refused_suspended(request, suspended)
        return response
