"""The FHIR R4 API as a partner's software meets it: directory, slots, booking, cancelling,
patients, paging, errors as OperationOutcome, and every resource valid R4."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from creneau.fhir.mappers.common import model_class

from . import factories as f
from .fhir_support import Api, Tenant, booking_body, grant, register_client, reset_rate_limits, tenant, token


@pytest.fixture
def setup(db: None, monday_morning: None, client: Client) -> dict[str, Any]:
    reset_rate_limits()
    a = tenant("Cabinet A")
    b = tenant("Cabinet B")
    client_id, secret = register_client()
    grant(client_id, a.org)
    return {"a": a, "b": b, "api": Api(client, token(client, client_id, secret)), "client_id": client_id}


def assert_valid(resource: dict[str, Any]) -> None:
    """Every resource we return validates against the R4 model, bundles entry by entry."""
    model_class(resource["resourceType"]).model_validate(resource)
    for entry in resource.get("entry", []):
        assert_valid(entry["resource"])


def test_metadata_is_a_valid_capability_statement(setup: dict[str, Any]) -> None:
    response = setup["api"].get("metadata")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    assert_valid(body)
    types = {r["type"] for r in body["rest"][0]["resource"]}
    assert {"Slot", "Appointment", "Patient", "Practitioner", "Schedule"} <= types


def test_it_searches_free_slots_of_a_schedule_and_books_one(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    found = api.get(
        "Slot", {"schedule": f"Schedule/{a.role_id}", "status": "free", "start": "ge2026-03-03", "_count": 3}
    )
    assert found.status_code == 200
    bundle = found.json()
    assert_valid(bundle)
    starts = [e["resource"]["start"] for e in bundle["entry"]]
    # Tomorrow 09:00 Paris (08:00 UTC) is taken by the existing appointment.
    assert starts == ["2026-03-03T08:30:00Z", "2026-03-03T09:00:00Z", "2026-03-03T09:30:00Z"]
    assert any(link["relation"] == "next" for link in bundle["link"])
    slot = bundle["entry"][0]["resource"]
    booked = api.post("Appointment", booking_body(slot["id"], a.patient.pk))
    assert booked.status_code == 201, booked.content
    appointment = booked.json()
    assert_valid(appointment)
    assert appointment["status"] == "booked"
    assert appointment["start"] == "2026-03-03T08:30:00Z"
    assert booked["Location"].endswith(f"/fhir/R4/Appointment/{appointment['id']}")
    again = api.post("Appointment", booking_body(slot["id"], a.patient.pk))
    assert again.status_code == 409
    assert again.json()["resourceType"] == "OperationOutcome"
    assert api.get(f"Slot/{slot['id']}").json()["status"] == "busy"


def test_it_cancels_by_updating_the_status(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    current = api.get(f"Appointment/{a.appointment.pk}").json()
    current["status"] = "cancelled"
    response = api.put(f"Appointment/{a.appointment.pk}", current)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    a.appointment.refresh_from_db()
    assert a.appointment.status == "cancelled"


def test_it_searches_appointments_by_date_status_practitioner_and_patient(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    params = {
        "date": ["ge2026-03-03", "lt2026-03-04"],
        "status": "booked",
        "practitioner": f"Practitioner/{a.doc.pk}",
        "patient": f"Patient/{a.patient.pk}",
        "_lastUpdated": "ge2020-01-01",
    }
    bundle = api.get("Appointment", params).json()
    assert_valid(bundle)
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(a.appointment.pk)]
    assert api.get("Appointment", {"status": "cancelled"}).json()["total"] == 0
    assert api.get("Appointment", {"date": "2026-03-05"}).json()["total"] == 0


def test_it_finds_a_practitioner_by_national_identifier_and_name(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    by_id = api.get("Practitioner", {"identifier": f"urn:oid:1.2.250.1.71.4.2.1|8{a.doc.rpps}"}).json()
    assert_valid(by_id)
    assert [e["resource"]["id"] for e in by_id["entry"]] == [str(a.doc.pk)]
    assert by_id["entry"][0]["resource"]["identifier"][0]["value"] == f"8{a.doc.rpps}"
    by_name = api.get("Practitioner", {"name": a.doc.family_name}).json()
    assert by_name["total"] == 1


@pytest.mark.parametrize(
    "path", ["Organization", "Location", "Practitioner", "PractitionerRole", "HealthcareService", "Schedule"]
)
def test_directory_searches_return_valid_resources_of_the_granting_organization(
    setup: dict[str, Any], path: str
) -> None:
    bundle = setup["api"].get(path).json()
    assert_valid(bundle)
    assert bundle["total"] >= 1
    for entry in bundle["entry"]:
        read = setup["api"].get(f"{path}/{entry['resource']['id']}")
        assert read.status_code == 200
        assert_valid(read.json())


def test_count_is_capped_by_the_server(setup: dict[str, Any], settings: Any) -> None:
    settings.CRENEAU_FHIR_MAX_COUNT = 2
    a: Tenant = setup["a"]
    bundle = setup["api"].get("Slot", {"schedule": f"Schedule/{a.role_id}", "_count": 500}).json()
    assert len(bundle["entry"]) == 2
    assert bundle["total"] > 2
    nxt = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    assert "_count=2" in nxt and "_offset=2" in nxt


def test_a_client_creates_a_patient_for_its_organization_and_books_for_them(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    body = {
        "resourceType": "Patient",
        "name": [{"family": "Durand", "given": ["Léa"]}],
        "gender": "female",
        "birthDate": "1990-04-02",
        "telecom": [{"system": "phone", "value": "+33639980099"}],
        "managingOrganization": {"reference": f"Organization/{a.org.pk}"},
    }
    created = api.post("Patient", body)
    assert created.status_code == 201, created.content
    patient = created.json()
    assert_valid(patient)
    assert "address" not in patient
    slot = a.slot_id(f.paris(2026, 3, 4, 10, 0))
    booked = api.post("Appointment", booking_body(slot, patient["id"]))
    assert booked.status_code == 201, booked.content
    found = api.get("Patient", {"family": "Durand", "birthdate": "1990-04-02"}).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [patient["id"]]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{not json", 400),
        ("[]", 400),
        ({"resourceType": "Patient"}, 400),
        ({"resourceType": "Appointment", "status": "booked", "bogus": 1}, 400),
        ({"resourceType": "Appointment", "status": "booked", "slot": [], "participant": []}, 422),
    ],
)
def test_bad_bodies_answer_an_operation_outcome(setup: dict[str, Any], body: Any, status: int) -> None:
    response = setup["api"].post("Appointment", body)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/fhir+json")
    outcome = response.json()
    assert_valid(outcome)
    assert outcome["resourceType"] == "OperationOutcome"


def test_a_slot_in_the_past_or_off_the_grid_is_refused(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    off_grid = api.post("Appointment", booking_body(a.slot_id(f.paris(2026, 3, 4, 9, 10)), a.patient.pk))
    assert off_grid.status_code == 422
    past = api.post("Appointment", booking_body(a.slot_id(f.paris(2026, 3, 1, 9, 0)), a.patient.pk))
    assert past.status_code == 422
    assert api.get(f"Slot/{a.slot_id(f.paris(2026, 3, 4, 9, 10))}").status_code == 404


@pytest.mark.parametrize("path", ["Nothing", "Appointment/x/y", "Slot/$find"])
def test_unknown_paths_answer_an_operation_outcome(setup: dict[str, Any], path: str) -> None:
    response = setup["api"].get(path)
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_unsupported_methods_answer_405_with_an_operation_outcome(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    response = setup["api"].delete(f"Appointment/{a.appointment.pk}")
    assert response.status_code == 405
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "GET" in response["Allow"]


def test_bad_search_parameters_answer_400(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    assert api.get("Appointment", {"date": "yesterday"}).status_code == 400
    assert api.get("Appointment", {"_count": "many"}).status_code == 400
    assert api.get("Slot", {}).status_code == 400
    assert api.get("Appointment", {"practitioner": "Patient/1"}).status_code == 400


def test_the_slot_search_reads_the_site_time_zone_free_of_dst_surprises(setup: dict[str, Any]) -> None:
    """Dates without a zone are Paris dates: 2026-03-29 (spring forward) starts at 22:00 UTC the day before."""
    a: Tenant = setup["a"]
    with_dates = (
        setup["api"]
        .get("Slot", {"schedule": f"Schedule/{a.role_id}", "start": ["ge2026-03-29", "lt2026-03-30"], "_count": 1})
        .json()
    )
    assert with_dates["entry"][0]["resource"]["start"] == "2026-03-29T07:00:00Z"
    _ = dt


@pytest.mark.parametrize("content_type", ["multipart/form-data", "application/x-www-form-urlencoded", "text/plain"])
def test_bodies_that_are_not_fhir_json_answer_415(setup: dict[str, Any], content_type: str) -> None:
    api: Api = setup["api"]
    response = api.client.post(
        "/fhir/R4/Appointment", "{}", content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {api.token}"
    )
    assert response.status_code == 415
    assert response.json()["resourceType"] == "OperationOutcome"


def test_broad_slot_searches_read_the_availability_index(setup: dict[str, Any], settings: Any) -> None:
    """Past a few agendas, slots come from the maintained index instead of a live computation; the
    answer is the same for the days the index covers."""
    a: Tenant = setup["a"]
    query = {"specialty": "SM15", "start": ["ge2026-03-03", "lt2026-03-04"], "_count": 100}
    live = setup["api"].get("Slot", query).json()
    settings.CRENEAU_FHIR_LIVE_SLOT_AGENDAS = 0
    indexed = setup["api"].get("Slot", query).json()
    assert_valid(indexed)
    assert [e["resource"]["id"] for e in indexed["entry"]] == [e["resource"]["id"] for e in live["entry"]]
    assert {e["resource"]["schedule"]["reference"] for e in indexed["entry"]} == {f"Schedule/{a.role_id}"}
    assert indexed["total"] == 5  # 09:30 to 11:30 the next day; 09:00 is booked


def test_paging_a_broad_slot_search_gives_every_start_once_in_time_order(
    setup: dict[str, Any], settings: Any, client: Client
) -> None:
    """Two practices' agendas interleave: pages of 3 read back-to-back are the one big page, in order."""
    settings.CRENEAU_FHIR_LIVE_SLOT_AGENDAS = 0
    anonymous = Api(client)
    query = {"specialty": "SM15", "start": ["ge2026-03-03", "lt2026-03-05"]}
    whole = anonymous.get("Slot", {**query, "_count": 100}).json()
    assert_valid(whole)
    starts = [(e["resource"]["start"], e["resource"]["schedule"]["reference"]) for e in whole["entry"]]
    assert len({ref for _s, ref in starts}) == 2
    assert [s for s, _r in starts] == sorted(s for s, _r in starts)
    # Six half hours a day each, over two days, less the 09:00 booking each practice has on the 3rd.
    assert whole["total"] == len(starts) == 2 * (2 * 6 - 1)
    paged = []
    for offset in range(0, whole["total"], 3):
        page = anonymous.get("Slot", {**query, "_count": 3, "_offset": offset}).json()
        assert page["total"] == whole["total"]
        paged += [e["fullUrl"] for e in page["entry"]]
    assert paged == [e["fullUrl"] for e in whole["entry"]]


def test_a_booking_is_seen_by_the_next_broad_slot_search_though_answers_are_cached(
    setup: dict[str, Any], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A repeated search is answered without reading the index again; a booking in the searched
    specialty changes the index version, so the very next search no longer offers the booked slot."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.CRENEAU_FHIR_LIVE_SLOT_AGENDAS = 0
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    query = {"specialty": "SM15", "start": ["ge2026-03-03", "lt2026-03-04"], "_count": 100}
    before = api.get("Slot", query).json()
    with CaptureQueriesContext(connection) as ctx:
        again = api.get("Slot", query).json()
    assert again == before
    assert not [q for q in ctx.captured_queries if "availabilityindex" in q["sql"]]
    first = before["entry"][0]["resource"]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("Appointment", booking_body(first["id"], a.patient.pk)).status_code == 201
    after = api.get("Slot", query).json()
    assert after["total"] == before["total"] - 1
    assert first["id"] not in {e["resource"]["id"] for e in after["entry"]}


@pytest.mark.parametrize("path", ["Appointment", "Slot", "Practitioner", "Schedule", "HealthcareService"])
def test_searches_run_a_constant_number_of_queries(setup: dict[str, Any], path: str) -> None:
    """More rows on the page never means more queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    a: Tenant = setup["a"]
    query = {"Slot": {"service-type": str(a.motif.pk)}}.get(path, {})

    def count(n: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = setup["api"].get(path, {**query, "_count": n})
        assert response.status_code == 200
        assert len(response.json()["entry"]) == n
        return len(ctx.captured_queries)

    if path in ("Practitioner", "Schedule", "HealthcareService", "Appointment"):
        for i in range(3):
            site = a.site
            doc = f.practitioner(site)
            f.every_day(doc, site)
            f.motif(doc)
            if path == "Appointment":
                from creneau.booking.services import SlotRef, appointment_book

                appointment_book(
                    actor=a.staff,
                    slot=SlotRef(a.doc.pk, a.motif.pk, site.pk, f.paris(2026, 3, 5, 9 + i)),
                    patient_id=a.patient.pk,
                )
    assert count(1) == count(3)


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("Slot/" + "_" * 48, {}, 404),
        ("Slot/////////////////////////////////////////////////", {}, 404),
        ("Slot/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", {}, 404),
        ("Slot/" + "." * 48, {}, 404),  # decodes to a start beyond year 9999
        ("Slot", {"service-type": "x", "start": "ge9999-12-31"}, 400),
        ("Slot", {"service-type": "x", "start": "le0001-01-01"}, 400),
        ("Appointment", {"date": "ge9999-12-31T23:59:59+00:00"}, 400),
        ("Appointment", {"date": "2026-13-01"}, 400),
        ("Appointment", {"_count": "99999999999999999999999"}, 200),
        ("Appointment", {"_offset": "-1"}, 400),
        ("PractitionerRole/" + "g" * 64, {}, 404),
        ("Appointment/not-a-uuid", {}, 404),
    ],
)
def test_edge_inputs_get_a_clean_answer(setup: dict[str, Any], path: str, params: dict[str, str], status: int) -> None:
    response = setup["api"].get(path, params)
    assert response.status_code == status, response.content
    if status != 200:
        assert response.json()["resourceType"] == "OperationOutcome"
