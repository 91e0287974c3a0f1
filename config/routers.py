"""Read replicas for read-only pages, with read-your-writes.

`ReplicaRoutingMiddleware` marks a request as replica-safe when it is a GET/HEAD to one of the read-only
views in `CRENEAU_REPLICA_VIEWS` (search, practitioner page, FHIR directory and slot searches) and the
client has not written recently. Any unsafe request (booking, cancelling, signing in) sets a short-lived
`CRENEAU_STICKY_COOKIE` cookie: for `CRENEAU_REPLICA_STICKY_SECONDS` (longer than the replicas' lag
budget), every read of that browser goes to the primary, so a patient who has just booked sees the slot
gone and their appointment listed. `ReplicaRouter` then sends reads of a marked request to the `replica`
alias, except inside a transaction and for models whose freshness is a security matter (audit trail,
suspensions, OAuth2 tokens, sessions), which always read the primary. Writes always go to the primary.

Without a `replica` database configured, everything reads the primary and the middleware does nothing."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

REPLICA = "replica"
PRIMARY = "default"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Apps whose rows must be read fresh whatever the page: security decisions and credentials.
ALWAYS_PRIMARY_APPS = frozenset(
    {"audit", "incidents", "oauth2_provider", "sessions", "fhir", "django_tasks_db", "notifications"}
)
DEFAULT_REPLICA_VIEWS = frozenset(
    {
        "web:home",
        "web:suggest_places",
        "web:practitioner",
        "fhir:metadata",
        "fhir:Organization-type",
        "fhir:Location-type",
        "fhir:Practitioner-type",
        "fhir:PractitionerRole-type",
        "fhir:HealthcareService-type",
        "fhir:Schedule-type",
        "fhir:Slot-type",
    }
)

_replica_ok: contextvars.ContextVar[bool] = contextvars.ContextVar("creneau_replica_ok", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def sticky_seconds() -> int:
    return int(getattr(settings, "CRENEAU_REPLICA_STICKY_SECONDS", 15))


def sticky_cookie() -> str:
    return str(getattr(settings, "CRENEAU_STICKY_COOKIE", "creneau_rw"))


class ReplicaRouter:
    """Reads of replica-safe requests go to the replica; everything else to the primary."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        if not _replica_ok.get() or not replica_configured():
            return PRIMARY
        if model._meta.app_label in ALWAYS_PRIMARY_APPS:
            return PRIMARY
        if connections[PRIMARY].in_atomic_block:
            return PRIMARY  # reads inside a transaction belong to it
        return REPLICA

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True  # same data, two copies

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == PRIMARY


class ReplicaRoutingMiddleware:
    """Decide per request whether reads may go to a replica; keep writers on the primary for a while."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _replica_ok.set(False)
        try:
            response = self.get_response(request)
        finally:
            _replica_ok.reset(token)
        if request.method not in SAFE_METHODS and replica_configured():
            response.set_cookie(
                sticky_cookie(),
                "1",
                max_age=sticky_seconds(),
                httponly=True,
                samesite="Lax",
                secure=bool(getattr(settings, "SESSION_COOKIE_SECURE", False)),
            )
        return response

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> None:
        match = request.resolver_match
        views = getattr(settings, "CRENEAU_REPLICA_VIEWS", DEFAULT_REPLICA_VIEWS)
        if (
            request.method in SAFE_METHODS
            and match is not None
            and match.view_name in views
            and sticky_cookie() not in request.COOKIES
        ):
            _replica_ok.set(True)
