"""FHIR HTTP plumbing: who is calling (OAuth2 bearer token or anonymous), what they may do for which
organizations, and every answer as `application/fhir+json`, errors as OperationOutcome."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.http import http_date
from django.utils.translation import gettext as _
from oauth2_provider.oauth2_backends import get_oauthlib_core

from creneau.audit import detection
from creneau.audit import services as audit_services
from creneau.core import clock, outcomes, ratelimit, suspension
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.core.errors import DomainError
from creneau.core.failures import is_unavailable, unavailable_response

from . import scopes
from .models import ApiGrant

logger = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
ACCEPTED_BODY_TYPES = ("application/fhir+json", "application/json")
JSON_PATCH = "application/json-patch+json"


class FhirError(Exception):
    """An error answered as an OperationOutcome with this HTTP status. `code`: the FHIR issue type (by
    default from the status); `reason`: our machine-readable reason (`issue.details.coding`; a `code`
    that is no IssueType is taken as the reason)."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        code: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.code = code
        self.reason = reason


def fhir_json(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def fhir_body_response(text: str, status: int = 200) -> HttpResponse:
    """An answer whose JSON is already serialized (e.g. from a cache)."""
    return HttpResponse(text, status=status, content_type=f"{FHIR_JSON}; charset=utf-8")


def version_headers(body: dict[str, Any]) -> dict[str, str]:
    """ETag (weak, the versionId) and Last-Modified of a single versioned resource."""
    meta = body.get("meta") or {}
    if body.get("resourceType") == "Bundle" or "versionId" not in meta:
        return {}
    out = {"ETag": f'W/"{meta["versionId"]}"'}
    with contextlib.suppress(ValueError, KeyError):
        moment = dt.datetime.fromisoformat(meta["lastUpdated"].replace("Z", "+00:00"))
        out["Last-Modified"] = http_date(moment.timestamp())
    return out


def prefer_minimal(request: HttpRequest) -> bool:
    """`Prefer: return=minimal`: a write answers without a body (headers only)."""
    prefer = request.META.get("HTTP_PREFER", "")
    return any(part.strip().lower() == "return=minimal" for part in prefer.split(","))


def write_response(
    request: HttpRequest, body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> HttpResponse:
    """The answer to a create or update, honouring `Prefer: return=minimal|representation`."""
    if prefer_minimal(request):
        response = HttpResponse(status=status)
        for k, v in {**version_headers(body), **(headers or {})}.items():
            response[k] = v
        return response
    return fhir_response(body, status, headers)


def if_match(request: HttpRequest, current_version: str) -> None:
    """`If-Match: W/"<versionId>"`: 412 when the resource has changed since."""
    wanted = request.META.get("HTTP_IF_MATCH", "").strip()
    if not wanted or wanted == "*":
        return
    values = {v.strip().removeprefix("W/").strip('"') for v in wanted.split(",")}
    if current_version not in values:
        raise FhirError(412, _("The resource has changed since that version; read it again."))


def _not_acceptable(request: HttpRequest) -> bool:
    """XML (or any other non-JSON format) asked for by `_format` or by an Accept without JSON."""
    fmt = request.GET.get("_format", "").lower()
    if fmt and "json" not in fmt:
        return True
    accept = request.META.get("HTTP_ACCEPT", "").lower()
    if not accept:
        return False
    return not any(token in media for media in accept.split(",") for token in ("json", "*/*", "application/*"))


def fhir_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = fhir_body_response(fhir_json(body), status)
    for k, v in version_headers(body).items():
        response[k] = v
    for k, v in (headers or {}).items():
        response[k] = v
    return response


def outcome(
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    code: str | None = None,
    reason: str | None = None,
) -> HttpResponse:
    """A refusal as a valid R4 OperationOutcome: issue type, our reason code, text safe to show."""
    if reason is None and code is not None and code not in outcomes.ISSUE_TYPES:
        reason, code = code, None
    return fhir_response(outcomes.refusal_body(status, message, code=code, reason=reason), status, headers)


@dataclasses.dataclass(frozen=True)
class Caller:
    """The principal of one API request. `client_id` is None for an anonymous caller."""

    client_id: str | None
    token_permissions: frozenset[tuple[str, str]]
    grants: tuple[tuple[uuid.UUID, frozenset[tuple[str, str]]], ...]
    ip: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.client_id is None

    def organizations(self, resource_type: str, letter: str) -> frozenset[uuid.UUID] | None:
        """Organizations whose data this request may touch for (resource, interaction); None means the
        public directory (anonymous reads). Raises 403 when the token's scopes do not cover it."""
        if self.anonymous:
            return None
        if (resource_type, letter) not in self.token_permissions:
            raise FhirError(403, _("The access token's scopes do not allow this interaction."))
        return frozenset(org for org, perms in self.grants if (resource_type, letter) in perms)

    def actor(self, resource_type: str, letter: str) -> Actor:
        """The domain actor for services and scoped selectors: an API client acting for exactly the
        organizations that granted this interaction."""
        if self.anonymous:
            raise FhirError(401, _("This interaction needs an access token."), _challenge())
        orgs = self.organizations(resource_type, letter) or frozenset()
        return Actor(
            kind=ActorKind.API_CLIENT,
            channel=Channel.API,
            api_client_id=self.client_id,
            organization_ids=orgs,
            ip=self.ip,
        )

    def has(self, resource_type: str, letter: str) -> bool:
        return self.anonymous is False and (resource_type, letter) in self.token_permissions


def _challenge(error: str | None = None) -> dict[str, str]:
    value = 'Bearer realm="creneau-fhir"'
    if error:
        value += f', error="{error}"'
    return {"WWW-Authenticate": value}


def _client_ip(request: HttpRequest) -> str:
    return ratelimit.client_ip(request)


def authenticate(request: HttpRequest, *, anonymous_ok: bool) -> Caller:
    """Bearer token → Caller with its grants, read fresh on every request so that a revoked grant
    stops working at once. No token: anonymous (rate limited) where allowed, else 401."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        if not anonymous_ok:
            raise FhirError(401, _("This interaction needs an access token."), _challenge())
        limit, window = settings.CRENEAU_FHIR_ANON_RATE
        headers = _count_request(request, ratelimit.Limit("fhir-anon", limit, window), _client_ip(request))
        if headers is not None:
            raise FhirError(
                429, _("Too many requests; slow down or use an access token."), headers, reason="rate-limited"
            )
        return Caller(client_id=None, token_permissions=frozenset(), grants=(), ip=_client_ip(request))
    scheme, _sep, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise FhirError(401, _("Use a Bearer access token."), _challenge("invalid_request"))
    # The scheme is case-insensitive (RFC 9110 §11.1); the toolkit only reads "Bearer ".
    request.META["HTTP_AUTHORIZATION"] = f"Bearer {credentials.strip()}"
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
    token = getattr(oauth_request, "access_token", None) if valid else None
    if token is None or token.application_id is None:
        raise FhirError(401, _("The access token is invalid or has expired."), _challenge("invalid_token"))
    client_id = token.application.client_id
    if suspension.is_suspended(f"client:{client_id}"):
        # Before any id is parsed or record looked up: one audit event, no detection work.
        actor = Actor(kind=ActorKind.API_CLIENT, channel=Channel.API, api_client_id=client_id, ip=_client_ip(request))
        suspension.record_refusal(actor, via="fhir")
        raise FhirError(
            403, str(suspension.MESSAGE), {suspension.REASON_HEADER: suspension.REASON}, reason=suspension.REASON
        )
    if request.method in ("GET", "HEAD") or request.path.endswith("/_search"):
        # Quotas are on what a client reads; its bookings and cancellations still go through.
        _refuse_if_throttled(request, client_id)
    headers = _count_request(request, ratelimit.get("fhir-client"), client_id)
    if headers is not None:
        raise FhirError(
            429, _("Too many requests for this client; wait as Retry-After says."), headers, reason="rate-limited"
        )
    grants = tuple(
        (org_id, frozenset(scopes.permissions(scope_text.split())))
        for org_id, scope_text in ApiGrant.objects.active()
        .filter(application_id=token.application_id)
        .values_list("organization_id", "scopes")
    )
    return Caller(
        client_id=client_id,
        token_permissions=frozenset(scopes.permissions(token.scope.split())),
        grants=grants,
        ip=_client_ip(request),
    )


RATE_HEADERS_ATTR = "_creneau_rate_headers"


def _rate_headers(limit: ratelimit.Limit, used: int) -> dict[str, str]:
    """RateLimit header fields (draft-ietf-httpapi-ratelimit-headers: Limit/Remaining/Reset, Policy)."""
    reset = limit.window - int(clock.now().timestamp()) % limit.window
    return {
        "RateLimit-Limit": str(limit.limit),
        "RateLimit-Remaining": str(max(0, limit.limit - used)),
        "RateLimit-Reset": str(reset),
        "RateLimit-Policy": f"{limit.limit};w={limit.window}",
    }


def _count_request(request: HttpRequest, limit: ratelimit.Limit, key: str) -> dict[str, str] | None:
    """Count the request against `limit` (without Redis: per process, never an error); the RateLimit
    headers go on the answer. Past the limit, the headers of the 429 (with Retry-After)."""
    used = ratelimit.hit(limit, key)
    headers = _rate_headers(limit, used)
    if used > limit.limit:
        return {**headers, "Retry-After": headers["RateLimit-Reset"]}
    setattr(request, RATE_HEADERS_ATTR, headers)
    return None


def _refuse_if_throttled(request: HttpRequest, client_id: str) -> None:
    """A client that reached a published quota (distinct patients or not-found answers per window) has
    its reads answered 429 until the window has moved on; if it keeps reading regardless, it is
    suspended."""
    principal = f"client:{client_id}"
    until = detection.throttled_until(principal)
    if until is None:
        return
    actor = Actor(kind=ActorKind.API_CLIENT, channel=Channel.API, api_client_id=client_id, ip=_client_ip(request))
    if audit_services.throttled_request(actor):
        suspension.record_refusal(actor, via="fhir")
        raise FhirError(403, str(suspension.MESSAGE), {suspension.REASON_HEADER: suspension.REASON}, reason="suspended")
    wait = str(max(1, until - int(clock.now().timestamp())))
    raise FhirError(
        429,
        _(
            "This client has reached its quota of patients or of not-found answers for the hour; "
            "wait as Retry-After says. Requests sent meanwhile count toward a suspension."
        ),
        {"Retry-After": wait, "RateLimit-Reset": wait},
        reason="quota-exceeded",
    )


def _check_body_type(request: HttpRequest) -> None:
    ctype = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if ctype not in ACCEPTED_BODY_TYPES:
        raise FhirError(415, _("Send the resource as application/fhir+json."))


def read_body(request: HttpRequest, resource_type: str) -> dict[str, Any]:
    """The request's JSON resource, checked for content type, syntax and resource type."""
    _check_body_type(request)
    if len(request.body) > 64 * 1024:
        raise FhirError(413, _("The request body is too large."))
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FhirError(400, _("The request body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise FhirError(400, _("The request body must be a JSON object."))
    if data.get("resourceType") != resource_type:
        raise FhirError(400, _("The body must be a %(type)s resource.") % {"type": resource_type})
    return data


Handler = Callable[..., HttpResponse]


FORM = "application/x-www-form-urlencoded"


def endpoint(methods: dict[str, Handler], *, form_post: bool = False) -> Callable[..., HttpResponse]:
    """A URL's view: dispatch on method, and turn every failure into an OperationOutcome. `form_post`:
    POST carries a form (`_search`), not a resource."""
    allowed = ", ".join(sorted(methods))

    @functools.wraps(next(iter(methods.values())))
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        # API clients choose their language by Accept-Language only (French by default).
        language = outcomes.negotiated_language(request)
        with translation.override(language):
            response = answer(request, **kwargs)
        response["Content-Language"] = language
        for name, value in getattr(request, RATE_HEADERS_ATTR, {}).items():
            response.setdefault(name, value)
        return response

    def answer(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        handler = methods.get(request.method or "")
        if handler is None:
            return outcome(405, _("This method is not supported here."), {"Allow": allowed})
        try:
            if _not_acceptable(request):
                raise FhirError(406, _("Only application/fhir+json is served."))
            if form_post and request.method == "POST":
                ctype = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
                if ctype != FORM and (ctype or request.META.get("CONTENT_LENGTH", "0") not in ("", "0")):
                    raise FhirError(415, _("Send the search parameters as application/x-www-form-urlencoded."))
            elif request.method == "PATCH":
                if request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != JSON_PATCH:
                    raise FhirError(415, _("Send the patch as application/json-patch+json."))
            elif request.method in ("POST", "PUT"):
                # Before authentication: the token check reads form bodies, and a malformed one
                # must be a 415, not a parser error.
                _check_body_type(request)
            return handler(request, **kwargs)
        except FhirError as exc:
            return outcome(exc.status, exc.message, exc.headers, code=exc.code, reason=exc.reason)
        except DomainError as exc:
            headers = {suspension.REASON_HEADER: suspension.REASON} if exc.code == suspension.REASON else None
            return outcome(exc.http_status, str(exc.message), headers, reason=exc.code)
        except RequestDataTooBig:
            return outcome(413, _("The request body is too large."))
        except Exception as exc:
            if is_unavailable(exc):  # database or Redis gone: a transient 503 (retry, with the same key)
                return unavailable_response(request)
            # The type only: an exception's text may carry submitted (personal) values.
            route = request.resolver_match.route if request.resolver_match else ""
            logger.error("fhir: unexpected %s on %s %s", type(exc).__name__, request.method, route)
            return outcome(500, _("Internal error; it has been logged."))

    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view
