"""Search in patients' own words: everyday names, no accents, plurals, one typo, names, districts,
'around me', filters, distance, and only the slots a patient may book."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client

from creneau.booking.models import Appointment, Status
from creneau.directory import vocabulary
from creneau.directory.nomenclature import specialty_rows
from creneau.scheduling.models import VisitChannel
from creneau.web import places

from . import factories as f
from .personas import World
from .web_support import refresh, signed_in

# What people type -> the nomenclature code it must find.
EVERYDAY = [
    ("dermatologue", "SM15"),
    ("Dermato", "SM15"),
    ("DERMATOLOGUES", "SM15"),
    ("dermatologe", "SM15"),  # one letter missing
    ("dermatolgoue", "SM15"),  # two letters swapped
    ("médecin généraliste", "SM54"),
    ("medecin generaliste", "SM54"),
    ("medecine generale", "SM54"),
    ("Médecine générale", "SM54"),
    ("généraliste", "SM54"),
    ("generalste", "SM54"),
    ("médecin traitant", "SM54"),
    ("GP", "SM54"),
    ("pédiatre", "SM35"),
    ("pediatres", "SM35"),
    ("les pédiatres", "SM35"),
    ("pédiatrie", "SM35"),
    ("dentiste", "SCD03"),
    ("chirurgien-dentiste", "SCD03"),
    ("ophtalmo", "SM33"),
    ("ophtalmologiste", "SM33"),
    ("ophtamologue", "SM33"),
    ("ORL", "SM34"),
    ("psy", "SM37"),
    ("psychiatre", "SM37"),
    ("pédopsychiatre", "SM38"),
    ("gynéco", "SM19"),
    ("gynecologue", "SM19"),
    ("cardiologue", "SM04"),
    ("cardio", "SM04"),
    ("rhumato", "SM43"),
    ("radiologue", "SM39"),
    ("gastro", "SM22"),
    ("endocrino", "SM16"),
    ("Dermatology", "SM15"),
    ("paediatrician", "SM35"),
    ("SM15", "SM15"),
]


@pytest.mark.parametrize(("typed", "code"), EVERYDAY)
def test_everyday_name_finds_its_specialty(typed: str, code: str) -> None:
    assert vocabulary.understand(typed).code == code


def test_every_specialty_of_the_nomenclature_has_everyday_names() -> None:
    codes = {row["code"] for row in specialty_rows()}
    assert codes == set(vocabulary.EVERYDAY_NAMES)
    for row in specialty_rows():  # and its own labels, folded, find it
        assert vocabulary.understand(row["label_fr"].upper()).code == row["code"]
        assert vocabulary.understand(row["label_en"]).code == row["code"]


def test_professions_not_on_the_platform_are_recognised_not_unknown() -> None:
    for typed in ("kiné", "kinesitherapeute", "sage-femme", "psychologue"):
        understood = vocabulary.understand(typed)
        assert understood.code is None and understood.profession is not None


@pytest.mark.parametrize(
    ("typed", "name", "postcode"),
    [
        ("Lyon 3e", "Lyon 3e", "69003"),
        ("lyon 3", "Lyon 3e", "69003"),
        ("Lyon 3ème", "Lyon 3e", "69003"),
        ("Paris 15", "Paris 15e", "75015"),
        ("Paris 15e arrondissement", "Paris 15e", "75015"),
        ("Paris 1er", "Paris 1er", "75001"),
        ("Marseille 8e", "Marseille 8e", "13008"),
        ("75116", "Paris 16e", "75016"),
        ("69003", "Lyon 3e", "69003"),
    ],
)
def test_arrondissements_are_places(typed: str, name: str, postcode: str) -> None:
    place = places.find_place(typed)
    assert place is not None
    assert (place.name, place.postcodes[0]) == (name, postcode)


def test_no_arrondissement_21_in_paris() -> None:
    assert places.find_place("Paris 21") is None


def _names(html: str) -> list[str]:
    return re.findall(r"Testeur\d+", html)


def test_search_in_everyday_words_finds_the_dermatologist(world: World, client: Client) -> None:
    refresh(world.doc)
    for typed in ("dermatologue", "dermato", "dermatologes", "DERMATOLOGIE"):
        response = client.get("/", {"specialty": typed, "where": "Lyon 3e"})
        assert response.status_code == 200, typed
        assert world.doc.family_name in response.content.decode()


def test_search_by_practitioner_name_needs_no_place(world: World, client: Client) -> None:
    refresh(world.doc)
    doc = world.doc
    response = client.get("/", {"specialty": f"jeanne {doc.family_name.lower()}", "where": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert doc.family_name in html and ">09:00<" in html


def test_search_by_practice_name(world: World, client: Client) -> None:
    refresh(world.doc)
    response = client.get("/", {"specialty": "Cabinet Lumière", "where": "Lyon"})
    assert response.status_code == 200
    assert world.doc.family_name in response.content.decode()


def test_unknown_word_suggests_the_closest_specialties(world: World, client: Client) -> None:
    response = client.get("/", {"specialty": "dermatoxyz", "where": "Lyon"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "dermatoxyz" in html
    assert "Dermatologie et vénéréologie" in html.split('role="alert"')[1].split("</div>")[0]


def test_a_profession_not_listed_is_explained(db: None, client: Client) -> None:
    f.ensure_specialties()
    response = client.get("/", {"specialty": "kiné", "where": "Lyon"})
    assert response.status_code == 200
    assert "kinésithérapeutes ne sont pas encore sur creneau" in response.content.decode()


def test_empty_and_very_long_queries_get_a_clear_message(db: None, client: Client) -> None:
    f.ensure_specialties()
    empty = client.get("/", {"specialty": "", "where": ""})
    assert empty.status_code == 400
    assert "Indiquez une spécialité" in empty.content.decode()
    long = client.get("/", {"specialty": "x" * 500, "where": "Lyon"})
    assert long.status_code == 400
    assert "120 caractères au plus" in long.content.decode()


def test_around_me_searches_from_the_position(world: World, client: Client) -> None:
    refresh(world.doc)
    response = client.get("/", {"specialty": "dermatologue", "lat": "45.761", "lon": "4.839"})
    assert response.status_code == 200
    html = response.content.decode()
    assert world.doc.family_name in html and "autour de vous" in html


def test_an_unreadable_position_gets_a_clear_message(world: World, client: Client) -> None:
    response = client.get("/", {"specialty": "dermatologue", "lat": "nan", "lon": "abc"})
    assert response.status_code == 400
    assert "Votre position n’a pas pu être lue" in response.content.decode()


def test_radius_choice_keeps_out_practitioners_beyond_it(world: World, client: Client) -> None:
    villeurbanne = f.site(world.org, city="Villeurbanne", postcode="69100")
    villeurbanne.latitude, villeurbanne.longitude = 45.80, 4.95  # about 9.6 km from the Lyon site
    villeurbanne.save()
    far = f.practitioner(villeurbanne)
    f.every_day(far, villeurbanne)
    f.motif(far)
    refresh(world.doc, far)
    near = client.get("/", {"specialty": "dermatologue", "where": "Lyon 2e", "radius": "5"}).content.decode()
    wide = client.get("/", {"specialty": "dermatologue", "where": "Lyon 2e", "radius": "25"}).content.decode()
    assert far.family_name not in near and world.doc.family_name in near
    assert far.family_name in wide


def test_sort_by_distance(world: World, client: Client) -> None:
    # The nearer practitioner opens later: soonest-first puts the Lyon one first, distance the other.
    near_site = f.site(world.org, city="Lyon", postcode="69002")
    near_site.latitude, near_site.longitude = 45.7500, 4.8270
    near_site.save()
    near = f.practitioner(near_site)
    f.every_day(near, near_site, start="14:00", end="16:00")
    f.motif(near)
    refresh(world.doc, near)
    params = {"specialty": "dermatologue", "where": "Lyon 2e"}
    soonest = _names(client.get("/", params).content.decode())
    nearest = _names(client.get("/", {**params, "sort": "distance"}).content.decode())
    assert soonest.index(world.doc.family_name) < soonest.index(near.family_name)
    assert nearest.index(near.family_name) < nearest.index(world.doc.family_name)


def test_filters_language_sector_new_patients(world: World, client: Client) -> None:
    doc = world.doc
    other = f.practitioner(world.site, accepts_new=False)
    f.every_day(other, world.site)
    f.motif(other)
    doc.languages, doc.convention_sector = ["fr", "en"], "1"
    doc.save()
    other.convention_sector = "2"
    other.save()
    refresh(doc, other)
    base = {"specialty": "dermatologue", "where": "Lyon"}
    both = _names(client.get("/", base).content.decode())
    assert doc.family_name in both and other.family_name in both
    assert set(_names(client.get("/", {**base, "lang": "en"}).content.decode())) == {doc.family_name}
    assert other.family_name not in client.get("/", {**base, "sector": "1"}).content.decode()
    assert doc.family_name not in client.get("/", {**base, "sector": "2"}).content.decode()
    assert other.family_name not in client.get("/", {**base, "new": "1"}).content.decode()


def test_video_filter_shows_only_video_slots(world: World, client: Client) -> None:
    video_doc = f.practitioner(world.site)
    f.every_day(video_doc, world.site, start="15:00", end="16:00")
    m = f.motif(video_doc, name="Téléconsultation")
    m.channel = VisitChannel.VIDEO
    m.save()
    refresh(world.doc, video_doc)
    html = client.get("/", {"specialty": "dermatologue", "where": "Lyon", "video": "1"}).content.decode()
    assert video_doc.family_name in html and world.doc.family_name not in html
    assert ">15:00<" in html


def test_available_today_leaves_out_those_free_only_later(world: World, client: Client) -> None:
    # Monday 2 March 07:00: the dermatologist is free today; the other one only from Thursday.
    later = f.practitioner(world.site)
    thursday = dt.date(2026, 3, 5)
    f.weekly_rule(later, world.site, weekday=3, start="09:00", end="10:00", valid_from=thursday)
    f.motif(later)
    refresh(world.doc, later)
    base = {"specialty": "dermatologue", "where": "Lyon"}
    today = client.get("/", {**base, "available": "today"}).content.decode()
    three = client.get("/", {**base, "available": "3days"}).content.decode()
    week = client.get("/", {**base, "available": "week"}).content.decode()
    assert world.doc.family_name in today and later.family_name not in today
    assert later.family_name not in three  # Thursday is the 4th day
    assert later.family_name in week


def test_returning_only_motifs_are_not_offered_to_a_newcomer(world: World, client: Client) -> None:
    doc = world.doc
    world.motif.delete()
    f.motif(doc, audience="returning", name="Suivi")
    refresh(doc)
    html = client.get("/", {"specialty": "dermatologue", "where": "Lyon"}).content.decode()
    assert doc.family_name in html and "book/?practitioner" not in html


def test_a_practitioner_closed_to_new_patients_offers_no_slot_to_a_newcomer(world: World, client: Client) -> None:
    doc = world.doc
    doc.accepts_new_patients = False
    doc.save()
    refresh(doc)
    html = client.get("/", {"specialty": "dermatologue", "where": "Lyon"}).content.decode()
    assert "book/?practitioner" not in html
    assert "Déjà patient" in html


def test_a_returning_patient_signed_in_sees_the_follow_up_slots(world: World, client: Client) -> None:
    doc = world.doc
    world.motif.delete()
    follow_up = f.motif(doc, audience="returning", name="Suivi")
    # Seen last month: a past booked visit.
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
    html = signed_in(world.user).get("/", {"specialty": "dermatologue", "where": "Lyon"}).content.decode()
    assert f"motif={follow_up.pk}" in html


def test_map_markers_match_the_list(world: World, client: Client) -> None:
    others = [f.practitioner(world.site) for _ in range(2)]
    for p in others:
        f.every_day(p, world.site, start="13:00", end="15:00")
        f.motif(p)
    refresh(world.doc, *others)
    html = client.get("/", {"specialty": "dermatologue", "where": "Lyon"}).content.decode()
    markers = re.findall(r'data-marker="(\d+)" data-lat="([\d.]+)" data-lon="([\d.]+)"', html)
    fallback = re.findall(r'<li><a href="#result-(\d+)">', html)
    assert [m[0] for m in markers] == ["1", "2", "3"] == fallback
    assert all(abs(float(lat) - 45.76) < 1e-6 and abs(float(lon) - 4.84) < 1e-6 for _n, lat, lon in markers)
    assert "web/vendor/leaflet/leaflet.js" in html  # shipped with the app, no CDN
    assert "unpkg" not in html and "cdn" not in html.lower()


def test_what_suggestions_offer_specialties_and_practitioners(world: World, client: Client) -> None:
    results = client.get("/suggest/what/", {"q": "pédia"}).json()["results"]
    assert results[0] == "Pédiatrie"
    by_name = client.get("/suggest/what/", {"q": world.doc.family_name[:7].lower()}).json()["results"]
    assert f"Jeanne {world.doc.family_name}" in by_name


def test_english_search_pages_stay_english(world: World, client: Client) -> None:
    refresh(world.doc)
    html = client.get("/en/", {"specialty": "dermatologist", "where": "Lyon 3e"}).content.decode()
    assert "Dermatology practitioner near Lyon 3e" in html
    assert "Filters and distance" in html
