"""Home page search: specialty + town or postcode → practitioners with distance and next free times."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings

from creneau.web import places

from . import factories as f
from .personas import World
from .web_support import refresh

pytestmark = pytest.mark.django_db


def test_home_shows_the_search_form(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="specialty"' in html and 'name="where"' in html
    assert "Dermatologie et vénéréologie" in html  # the nomenclature feeds the autocomplete list


def test_search_lists_the_dermatologist_with_distance_and_next_slots(world: World, client: Client) -> None:
    refresh(world.doc)
    response = client.get("/", {"specialty": "Dermatologie et vénéréologie", "where": "Lyon"})
    assert response.status_code == 200
    html = response.content.decode()
    assert world.doc.family_name in html
    assert "1 rue de Test, 69003 Lyon" in html
    assert " km" in html
    # Monday 2 March, the first free time is 09:00 Paris, linked to the booking page.
    assert ">09:00<" in html
    assert f"practitioner={world.doc.pk}" in html and "start=20260302T0800Z" in html


def test_search_by_postcode_and_by_partial_specialty(world: World, client: Client) -> None:
    refresh(world.doc)
    response = client.get("/", {"specialty": "dermato", "where": "69003"})
    assert response.status_code == 200
    assert world.doc.family_name in response.content.decode()


def test_results_are_sorted_by_earliest_availability(world: World, client: Client) -> None:
    late = f.practitioner(world.site)
    f.every_day(late, world.site, start="14:00", end="17:00")
    f.motif(late)
    refresh(world.doc, late)
    html = client.get("/", {"specialty": "dermatologie", "where": "Lyon"}).content.decode()
    assert html.index(world.doc.family_name) < html.index(late.family_name)


def test_far_away_practitioners_are_not_listed(world: World, client: Client) -> None:
    paris_site = f.site(world.org, city="Paris", postcode="75011")
    paris_site.latitude, paris_site.longitude = 48.8589, 2.379
    paris_site.save()
    far = f.practitioner(paris_site)
    f.motif(far)
    html = client.get("/", {"specialty": "dermatologie", "where": "Lyon"}).content.decode()
    assert far.family_name not in html


def test_unknown_specialty_is_a_400_with_a_message(world: World, client: Client) -> None:
    response = client.get("/", {"specialty": "astrologie", "where": "Lyon"})
    assert response.status_code == 400
    assert "astrologie" in response.content.decode()


def test_unknown_place_is_a_400_with_a_message(world: World, client: Client) -> None:
    response = client.get("/en/", {"specialty": "dermatologie", "where": "Atlantis"})
    assert response.status_code == 400
    assert "We could not find the town or postcode" in response.content.decode()


def test_no_practitioner_nearby_gives_a_helpful_empty_state(db: None, client: Client) -> None:
    f.ensure_specialties()
    response = client.get("/en/", {"specialty": "Cardiology", "where": "Brest"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "No Cardiology practitioner registered near Brest yet." in html
    assert "Try a nearby larger town" in html


def test_garbage_page_number_does_not_fail(world: World, client: Client) -> None:
    refresh(world.doc)
    response = client.get("/", {"specialty": "dermatologie", "where": "Lyon", "page": "9999x"})
    assert response.status_code == 200


def test_search_runs_a_fixed_number_of_queries_whatever_the_result_count(
    world: World,
    client: Client,
    settings: Settings,
) -> None:
    settings.CRENEAU_SEARCH_CACHE_SECONDS = 0  # computed each time
    refresh(world.doc)
    params = {"specialty": "dermatologie", "where": "Lyon"}
    client.get("/", params)  # warm caches (nomenclature, communes)
    with CaptureQueriesContext(connection) as one:
        client.get("/", params)
    more = [f.practitioner(world.site) for _ in range(6)]
    for p in more:
        f.every_day(p, world.site, start="13:00", end="15:00")
        f.motif(p)
    refresh(*more)
    with CaptureQueriesContext(connection) as seven:
        response = client.get("/", params)
    assert response.content.decode().count('class="avatar"') == 7
    assert len(seven) == len(one)
    assert len(one) <= 6


def test_place_suggestions(client: Client) -> None:
    response = client.get("/suggest/places/", {"q": "lyo"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0] == "Lyon"  # the whole city, then its arrondissements
    assert results[1] == "Lyon 1er (69001)"


def test_arrondissement_suggestions(client: Client) -> None:
    results = client.get("/suggest/places/", {"q": "Paris 1"}).json()["results"]
    assert results[:3] == ["Paris 1er (75001)", "Paris 10e (75010)", "Paris 11e (75011)"]


def test_place_lookup_by_name_postcode_and_label() -> None:
    lyon = places.find_place("Lyon")
    assert lyon is not None
    # A postcode of Lyon is its arrondissement, measured from that district's centre.
    third = places.find_place("69003")
    assert third is not None and third.name == "Lyon 3e" and third.postcodes == ("69003",)
    assert places.find_place("Lyon (69001)") == places.find_place("Lyon 1er")
    assert places.haversine_km(lyon.latitude, lyon.longitude, third.latitude, third.longitude) < 5
    assert places.find_place("saint etienne") is not None
    assert places.find_place("Atlantis") is None
    assert 390 < places.haversine_km(45.76, 4.84, 48.85, 2.35) < 400
