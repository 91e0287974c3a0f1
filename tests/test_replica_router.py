"""Read replicas: read-only pages read the replica; a browser that just wrote (booked, cancelled, signed
in) reads the primary for a short window so it sees its own writes; security tables and transactions
always read the primary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.urls import resolve
from django.utils import translation

from config.routers import PRIMARY, REPLICA, ReplicaRouter, ReplicaRoutingMiddleware
from creneau.audit.models import AuditEvent
from creneau.booking.models import Appointment
from creneau.directory.models import Practitioner


@pytest.fixture
def replica(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if DATABASE_REPLICA_URL configured a `replica` alias (the router only asks whether it exists)."""
    monkeypatch.setattr("config.routers.replica_configured", lambda: True)
    yield


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """URLs resolve as LocaleMiddleware would leave them for a French visitor (another test may have
    left another language active in this thread)."""
    with translation.override("fr"):
        yield


def serve(request: HttpRequest, model: type = Practitioner) -> tuple[str, HttpResponse]:
    """Run the middleware around a view that reports where a read of `model` would go."""
    seen: dict[str, str] = {}

    def view(req: HttpRequest) -> HttpResponse:
        seen["db"] = ReplicaRouter().db_for_read(model)
        return HttpResponse("ok")

    middleware = ReplicaRoutingMiddleware(view)

    def get_response(req: HttpRequest) -> HttpResponse:
        req.resolver_match = resolve(req.path_info)
        middleware.process_view(req, view, (), {})
        return view(req)

    middleware.get_response = get_response
    with translation.override("fr"):  # paths resolve in the default language, whatever a test left active
        response = middleware(request)
    return seen["db"], response


rf = RequestFactory()


def test_the_search_page_reads_the_replica(replica: None) -> None:
    db, response = serve(rf.get("/", {"specialty": "dermatologie", "where": "Lyon"}))
    assert db == REPLICA
    assert "creneau_rw" not in response.cookies


def test_the_fhir_slot_search_reads_the_replica(replica: None) -> None:
    db, _response = serve(rf.get("/fhir/R4/Slot", {"specialty": "SM15"}))
    assert db == REPLICA


def test_a_write_keeps_that_browser_on_the_primary_for_the_sticky_window(replica: None) -> None:
    db, response = serve(rf.post("/book/hold/", {}))
    assert db == PRIMARY
    cookie = response.cookies["creneau_rw"]
    assert int(cookie["max-age"]) == 15
    assert cookie["httponly"]
    # The next search from that browser reads the primary: the slot just booked is gone there.
    after = rf.get("/", {"specialty": "dermatologie", "where": "Lyon"})
    after.COOKIES["creneau_rw"] = "1"
    db, _response = serve(after)
    assert db == PRIMARY


def test_private_pages_read_the_primary(replica: None) -> None:
    db, _response = serve(rf.get("/account/"))
    assert db == PRIMARY


def test_security_tables_read_the_primary_even_on_a_search_page(replica: None) -> None:
    db, _response = serve(rf.get("/"), model=AuditEvent)
    assert db == PRIMARY


@pytest.mark.django_db(transaction=True)
def test_reads_inside_a_transaction_read_the_primary(replica: None) -> None:
    seen: dict[str, str] = {}
    middleware = ReplicaRoutingMiddleware(lambda r: HttpResponse())

    def get_response(req: HttpRequest) -> HttpResponse:
        req.resolver_match = resolve(req.path_info)
        middleware.process_view(req, None, (), {})
        seen["outside"] = ReplicaRouter().db_for_read(Appointment)
        with transaction.atomic():
            seen["inside"] = ReplicaRouter().db_for_read(Appointment)
        return HttpResponse()

    middleware.get_response = get_response
    with translation.override("fr"):  # "/" resolves in the default language, whatever a test left active
        middleware(rf.get("/"))
    assert seen == {"outside": REPLICA, "inside": PRIMARY}


def test_writes_always_go_to_the_primary(replica: None) -> None:
    assert ReplicaRouter().db_for_write(Appointment) == PRIMARY
    assert ReplicaRouter().allow_migrate(REPLICA, "booking") is False


def test_without_a_replica_everything_reads_the_primary_and_no_cookie_is_set() -> None:
    db, response = serve(rf.get("/"))
    assert db == PRIMARY
    _db, response = serve(rf.post("/book/hold/", {}))
    assert "creneau_rw" not in response.cookies
