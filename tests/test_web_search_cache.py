"""The search page's cached content: served again without recomputing, never stale after a booking,
never shared with a patient whose results differ, kept apart per language and per time window."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings

from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.core import clock

from . import factories as f
from .personas import World
from .web_support import refresh, signed_in

pytestmark = pytest.mark.django_db

SEARCH = {"specialty": "dermatologue", "where": "Lyon"}
FIRST = "start=20260302T0800Z"  # Monday 2 March 09:00 in Paris, the first free time


def content(html: str) -> str:
    """The page without its per-visitor parts (the CSRF token of the language switch)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def test_the_same_search_again_is_served_from_the_cache_with_the_same_page(world: World, client: Client) -> None:
    refresh(world.doc)
    first = client.get("/", SEARCH)
    with CaptureQueriesContext(connection) as queries:
        again = client.get("/", SEARCH)
    assert again.status_code == 200
    assert content(again.content.decode()) == content(first.content.decode())
    assert world.doc.family_name in again.content.decode() and FIRST in again.content.decode()
    assert len(queries) == 1  # the specialty typed; no search, no index read


def test_a_booking_takes_its_time_off_the_next_search_at_once(world: World, client: Client) -> None:
    refresh(world.doc)
    assert FIRST in client.get("/", SEARCH).content.decode()
    with TestCase.captureOnCommitCallbacks(execute=True):  # what the booking's commit runs
        services.appointment_book(
            actor=world.secretary,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 2, 9, 0)),
            patient_id=world.caller.pk,
        )
    html = client.get("/", SEARCH).content.decode()
    assert world.doc.family_name in html and FIRST not in html
    assert "start=20260302T0830Z" in html  # the next one is offered instead


def test_a_returning_patient_gets_their_own_results_not_the_cached_ones(world: World, client: Client) -> None:
    doc = world.doc
    world.motif.delete()
    follow_up = f.motif(doc, audience="returning", name="Suivi")
    Appointment.objects.create(
        practitioner=doc,
        site=world.site,
        organization=world.org,
        motif=follow_up,
        patient=world.patient,
        start_at=f.paris(2026, 2, 2, 9),
        end_at=f.paris(2026, 2, 2, 9, 30),
        busy_until=f.paris(2026, 2, 2, 9, 30),
        status=Status.BOOKED,
        actor_key="test",
    )
    refresh(doc)
    newcomer = client.get("/", SEARCH).content.decode()
    assert doc.family_name in newcomer and f"motif={follow_up.pk}" not in newcomer
    returning = signed_in(world.user).get("/", SEARCH).content.decode()
    assert f"motif={follow_up.pk}" in returning
    # And the newcomer's page is still the newcomer's.
    assert f"motif={follow_up.pk}" not in client.get("/", SEARCH).content.decode()


def test_french_and_english_pages_are_cached_apart(world: World, client: Client) -> None:
    refresh(world.doc)
    english = client.get("/en/", SEARCH).content.decode()
    french = client.get("/", SEARCH).content.decode()
    assert "Book Monday 2 March 09:00" in english
    assert "réserver lundi 2 mars 09:00" in french.casefold() and "Book Monday" not in french


def test_a_time_that_has_passed_is_gone_once_the_cache_window_is_over(
    world: World,
    client: Client,
    settings: Settings,
) -> None:
    refresh(world.doc)
    before = f.paris(2026, 3, 2, 8, 59) + dt.timedelta(seconds=50)  # ten seconds before the first time
    with clock.frozen_at(before):
        assert FIRST in client.get("/", SEARCH).content.decode()
    later = before + dt.timedelta(seconds=settings.CRENEAU_SEARCH_CACHE_SECONDS + 1)
    with clock.frozen_at(later):
        html = client.get("/", SEARCH).content.decode()
    assert world.doc.family_name in html and FIRST not in html
