"""What the service answers when a part it depends on is gone, and how load balancers learn of it.

- An unreachable database (connection refused, pool exhausted past `DB_POOL_TIMEOUT`, connection cut
  mid-request) or an unavailable Redis where nothing may stand in for it (creneau.core.cache) is
  answered **503 with Retry-After** and a page (or, under /fhir/, an OperationOutcome) saying the
  service is briefly unavailable, never a 500: the request changed nothing, and the client may retry.
  `server_error` is the project's handler500, so this holds wherever the error is raised: in a view, a
  middleware (sessions, authentication) or a template.
- `/healthz`: the process is up (no dependency is consulted). `/readyz`: the database answers (else
  503); Redis is reported as `up`, `down` (degraded: the service still answers, see deploy/README.md)
  or `absent`.

The pages are rendered without the request context: no session, user or database access, which are
what may be failing."""

from __future__ import annotations

import json
import logging
import sys
from types import TracebackType

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import outcomes
from .cache import CacheUnavailable, redis_status

logger = logging.getLogger("creneau.failures")

UNAVAILABLE = (OperationalError, InterfaceError, CacheUnavailable, RedisConnectionError, RedisTimeoutError)
# Seconds a client is asked to wait before retrying.
RETRY_AFTER_SECONDS = 5


def is_unavailable(exc: BaseException | None) -> bool:
    """True for the errors that mean "a dependency is briefly gone", not "this request is wrong"
    (looking through the exception's causes: Django wraps driver errors). A Redis connection error
    reaching here comes from code that calls Redis directly, bypassing the degrading cache."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, UNAVAILABLE):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 + Retry-After: an OperationOutcome under /fhir/, a short page elsewhere, in the browser's
    language (the failure may come from a middleware running before the language was chosen)."""
    if request.path.startswith("/fhir/"):
        language = outcomes.negotiated_language(request)
    else:
        language = translation.get_language_from_request(request)
    with translation.override(language):
        return _unavailable_response(request)


def _unavailable_response(request: HttpRequest) -> HttpResponse:
    message = _("The service is briefly unavailable. Please try again in a few seconds.")
    if request.path.startswith("/fhir/"):
        body = outcomes.refusal_body(503, message, code="transient", reason="unavailable")
        response = HttpResponse(
            json.dumps(body, ensure_ascii=False), status=503, content_type="application/fhir+json; charset=utf-8"
        )
    else:
        response = HttpResponse(render_to_string("core/unavailable.html", {"message": message}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: 503 when the uncaught error is an unavailable dependency, the usual 500 otherwise."""
    exc_info: tuple[type[BaseException] | None, BaseException | None, TracebackType | None] = sys.exc_info()
    if is_unavailable(exc_info[1]):
        return unavailable_response(request)
    with translation.override(translation.get_language_from_request(request)):
        return HttpResponseServerError(render_to_string("core/server_error.html"))


@csrf_exempt
@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and serving."""
    return HttpResponse("ok\n", content_type="text/plain")


@csrf_exempt
@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """Ready for traffic when the database answers; Redis's state is reported, not required."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "up"
    except DatabaseError:
        database = "down"
    state = {"database": database, "redis": redis_status()}
    state["status"] = "degraded" if state["redis"] == "down" else "ok"
    if database == "down":
        state["status"] = "unavailable"
    response = HttpResponse(
        json.dumps(state), status=503 if database == "down" else 200, content_type="application/json"
    )
    if database == "down":
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
