"""Pinned query counts of the main pages and API calls, per database: a change that adds a query to
one of them (an N+1, a forgotten select_related, a check done twice) fails here with the new number,
and whoever makes it decides whether the query is worth it and updates the pin. The pages are
measured warm (second request), with the world's data plus a few appointments."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings

from creneau.booking import services
from creneau.booking.services import SlotRef

from . import factories as f
from .fhir_support import Api, grant, register_client, reset_rate_limits, tenant, token
from .personas import World
from .web_support import signed_in

pytestmark = pytest.mark.django_db

# (sqlite, postgresql)
PINS: dict[str, tuple[int, int]] = {
    "search": (4, 4),
    "search, cached": (1, 1),
    "practitioner page": (12, 12),
    "agenda week": (28, 25),
    "agenda day": (28, 25),
    "account": (19, 13),
    "fhir slot search": (3, 3),
    "fhir patient read": (9, 6),
    "fhir appointment search": (11, 8),  # + the identifiers partners gave (one prefetch)
}


def count(label: str, call: object) -> int:
    call()  # type: ignore[operator]  # warm: sessions, caches, the availability index
    with CaptureQueriesContext(connection) as queries:
        response = call()  # type: ignore[operator]
    assert response.status_code == 200, (label, response.status_code)
    return len(queries)


def pinned(label: str) -> int:
    sqlite, postgresql = PINS[label]
    return postgresql if connection.vendor == "postgresql" else sqlite


def booked(world: World) -> None:
    for day, hour in ((3, 9), (4, 10), (5, 11)):
        services.appointment_book(
            actor=world.secretary,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, day, hour, 0)),
            patient_id=world.caller.pk,
        )


def test_public_pages_run_their_pinned_number_of_queries(world: World, settings: Settings) -> None:
    reset_rate_limits()
    client = Client()
    cached = count("search, cached", lambda: client.get("/en/", {"specialty": "dermato", "where": "Lyon"}))
    settings.CRENEAU_SEARCH_CACHE_SECONDS = 0
    search = count("search", lambda: client.get("/en/", {"specialty": "dermato", "where": "Lyon"}))
    page = count("practitioner page", lambda: client.get(f"/en/practitioners/{world.doc.pk}/"))
    assert (search, cached, page) == (pinned("search"), pinned("search, cached"), pinned("practitioner page"))
    assert world.doc.display_name in client.get("/en/", {"specialty": "dermato", "where": "Lyon"}).content.decode()


def test_staff_and_patient_pages_run_their_pinned_number_of_queries(world: World) -> None:
    booked(world)
    staff = signed_in(f.user_of(world.secretary))
    url = f"/en/practice/agenda/{world.agenda.pk}/"
    week = count("agenda week", lambda: staff.get(url, {"date": "2026-03-03"}))
    day = count("agenda day", lambda: staff.get(url, {"view": "day", "date": "2026-03-03"}))
    patient = signed_in(world.user)
    services.appointment_book(
        actor=world.patient_actor,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 6, 9, 0)),
        patient_id=world.patient.pk,
    )
    account = count("account", lambda: patient.get("/en/account/"))
    assert (week, day, account) == (pinned("agenda week"), pinned("agenda day"), pinned("account"))


def test_fhir_calls_run_their_pinned_number_of_queries(db: None, monday_morning: None) -> None:
    reset_rate_limits()
    a = tenant("Cabinet A")
    client_id, secret = register_client()
    grant(client_id, a.org)
    web = Client()
    api = Api(web, token(web, client_id, secret))
    query = {"schedule": f"Schedule/{a.role_id}", "status": "free", "start": "ge2026-03-03", "_count": 20}
    slots = count("fhir slot search", lambda: api.get("Slot", query))
    patient = count("fhir patient read", lambda: api.get(f"Patient/{a.patient.pk}"))
    appointments = count("fhir appointment search", lambda: api.get("Appointment?date=ge2026-01-01"))
    assert (slots, patient, appointments) == (
        pinned("fhir slot search"),
        pinned("fhir patient read"),
        pinned("fhir appointment search"),
    )
