"""Process metrics (Prometheus), exposed by `creneau.observability` at `/metrics` to operators only.

Every label is a closed set written in the code: a route's pattern name (`web:search`), an HTTP method and
status, a channel, an operation, a reason code. Never a path, an id, an address or anything a person typed,
so no metric can carry personal data and no label can grow without bound.

Under gunicorn each worker process counts for itself; with PROMETHEUS_MULTIPROC_DIR set (deploy/), the
counts are shared through files in that directory and the endpoint sums them."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from prometheus_client import Counter, Histogram

from .errors import Conflict, DomainError

# Seconds; from a cached page (a few ms) to the gunicorn timeout (30 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_SECONDS = Histogram(
    "creneau_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by route pattern name.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
RESPONSES = Counter(
    "creneau_http_responses",
    "Responses by route pattern name and status code.",
    ["route", "method", "status"],
)
BOOKINGS = Counter(
    "creneau_bookings",
    "Successful booking operations (hold, book, reschedule) by channel.",
    ["operation", "channel"],
)
CONFLICTS = Counter(
    "creneau_booking_conflicts",
    "Booking operations refused because the slot or the appointment changed under them.",
    ["operation", "channel"],
)
REFUSALS = Counter(
    "creneau_booking_refusals",
    "Booking operations refused by a rule, a right or bad input, by reason code.",
    ["operation", "channel", "reason"],
)

P = ParamSpec("P")
R = TypeVar("R")
_in_operation: contextvars.ContextVar[bool] = contextvars.ContextVar("creneau_booking_operation", default=False)


def booking_operation(operation: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Count the outcome of a booking service once, at the outermost call (confirming an expired hold
    books through `appointment_book`: one booking, not two). The service takes `actor=` by keyword."""

    def decorate(service: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(service)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if _in_operation.get():
                return service(*args, **kwargs)
            actor = kwargs.get("actor")
            channel = str(getattr(actor, "channel", "unknown"))
            token = _in_operation.set(True)
            try:
                result = service(*args, **kwargs)
            except Conflict:
                CONFLICTS.labels(operation, channel).inc()
                raise
            except DomainError as error:
                REFUSALS.labels(operation, channel, error.code).inc()
                raise
            finally:
                _in_operation.reset(token)
            BOOKINGS.labels(operation, channel).inc()
            return result

        return wrapper

    return decorate
