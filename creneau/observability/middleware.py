"""Outermost middleware: a request id, the latency histogram per route and one access log line.

The route is the URL pattern's name (`web:appointment_detail`), never the path, which holds ids. The
request id comes from the reverse proxy's `X-Request-ID` when it is a plain token, else is made here; it
is returned in the response and attached to every log line written while the request is served. The
principal is logged by kind only (anonymous, patient, staff, operator, api_client)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from creneau.core import metrics

from .logging import request_id

logger = logging.getLogger("creneau.request")
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_STAFF_SESSION_KEY = "is_staff_member"  # set by accounts.middleware.SessionSecurityMiddleware


def route_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or "unnamed"


def principal_kind(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    bearer = request.headers.get("Authorization", "").lower().startswith("bearer ")
    if match is not None and match.namespace.startswith("fhir") and bearer:
        return "api_client"
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return "anonymous"
    if user.is_staff:
        return "operator"
    session = getattr(request, "session", None)
    if session is not None and session.get(_STAFF_SESSION_KEY):
        return "staff"
    return "patient"


class RequestObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            status = response.status_code
        except BaseException:
            status = 500
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = route_name(request)
            method = request.method if request.method in _METHODS else "other"
            metrics.REQUEST_SECONDS.labels(route, method).observe(elapsed)
            metrics.RESPONSES.labels(route, method, str(status)).inc()
            logger.info(
                "request",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                    "principal_kind": principal_kind(request),
                },
            )
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
