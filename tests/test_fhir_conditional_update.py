"""Conditional update by identifier, as the SAS sends its updates: `PUT Appointment?identifier=
system|value`. No match creates (or 404 with an id), one match updates (status, time; the identifier
follows a move), several are a 412. Identifiers are stored with the booking, in its transaction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from creneau.booking.models import Appointment, AppointmentIdentifier

from . import factories as f
from .fhir_support import FHIR, Api, Tenant, booking_body, grant, register_client, reset_rate_limits, tenant, token

SAS = "urn:oid:1.2.250.1.213.3.6"


@pytest.fixture
def setup(db: None, monday_morning: None, client: Client) -> dict[str, Any]:
    reset_rate_limits()
    a = tenant("Cabinet A")
    b = tenant("Cabinet B")
    client_id, secret = register_client("SAS")
    grant(client_id, a.org)
    return {"a": a, "b": b, "api": Api(client, token(client, client_id, secret))}


def conditional_put(api: Api, query: str, body: dict[str, Any], **headers: str) -> Any:
    extra: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {api.token}", **headers}
    return api.client.put(f"/fhir/R4/Appointment?{query}", json.dumps(body), content_type=FHIR, **extra)


def sas_booking(a: Tenant, hour: int, value: str) -> dict[str, Any]:
    body = booking_body(a.slot_id(f.paris(2026, 3, 3, hour, 0)), a.patient.pk)
    body["identifier"] = [{"system": SAS, "value": value}]
    return body


def sas_update(created: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What the SAS sends: its identifier, the time, the status, the practitioner by national id only."""
    patient = next(p for p in created["participant"] if p["actor"]["reference"].startswith("Patient/"))
    return {
        "resourceType": "Appointment",
        "identifier": created["identifier"],
        "status": created["status"],
        "start": created["start"],
        "end": created["end"],
        "participant": [
            {"actor": {"reference": patient["actor"]["reference"]}, "status": "accepted"},
            {
                "actor": {"identifier": {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "810001234567"}},
                "status": "accepted",
            },
        ],
        **changes,
    }


def test_the_sas_books_then_cancels_by_its_identifier(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    api: Api = setup["api"]
    created = api.post("Appointment", sas_booking(a, 10, "sas-1"))
    assert created.status_code == 201, created.content
    assert created.json()["identifier"] == [{"system": SAS, "value": "sas-1"}]
    found = api.get("Appointment", {"identifier": f"{SAS}|sas-1"}).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [created.json()["id"]]
    response = conditional_put(api, f"identifier={SAS}|sas-1", sas_update(created.json(), status="cancelled"))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert Appointment.objects.get(pk=created.json()["id"]).status == "cancelled"


def test_a_move_keeps_the_identifier_on_the_new_appointment(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    api: Api = setup["api"]
    created = api.post("Appointment", sas_booking(a, 10, "sas-2")).json()
    moved = conditional_put(
        api, f"identifier={SAS}|sas-2", sas_update(created, start="2026-03-03T10:00:00Z", end="2026-03-03T10:30:00Z")
    )
    assert moved.status_code == 200, moved.content
    new_id = moved.json()["id"]
    assert new_id != created["id"] and moved.json()["identifier"] == created["identifier"]
    assert list(AppointmentIdentifier.objects.values_list("appointment_id", flat=True)) == [
        Appointment.objects.get(pk=new_id).pk
    ]
    again = conditional_put(api, f"identifier={SAS}|sas-2", sas_update(moved.json(), status="cancelled"))
    assert again.status_code == 200, again.content
    assert again.json()["id"] == new_id and again.json()["status"] == "cancelled"


def test_no_match_creates_and_an_id_without_a_match_is_a_404(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    api: Api = setup["api"]
    before = Appointment.objects.count()
    with_id = {**sas_booking(a, 10, "sas-3"), "id": "f3f0c1c2-1111-4222-8333-944455556666"}
    assert conditional_put(api, f"identifier={SAS}|sas-3", with_id).status_code == 404
    assert Appointment.objects.count() == before
    created = conditional_put(api, f"identifier={SAS}|sas-3", sas_booking(a, 10, "sas-3"))
    assert created.status_code == 201, created.content
    assert created["Location"].endswith(f"/Appointment/{created.json()['id']}")
    assert Appointment.objects.count() == before + 1


def test_several_matches_are_a_412(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    api: Api = setup["api"]
    api.post("Appointment", sas_booking(a, 10, "same"))
    other = sas_booking(a, 11, "same")
    other["identifier"] = [{"system": "urn:oid:1.2.3.4", "value": "same"}]
    assert api.post("Appointment", other).status_code == 201
    response = conditional_put(api, "identifier=|same", {"resourceType": "Appointment", "status": "cancelled"})
    assert response.status_code == 412, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert Appointment.objects.filter(status="cancelled").count() == 0


def test_an_identifier_already_used_books_nothing(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    api: Api = setup["api"]
    assert api.post("Appointment", sas_booking(a, 10, "dup")).status_code == 201
    before = Appointment.objects.count()
    again = api.post("Appointment", sas_booking(a, 11, "dup"))
    assert again.status_code == 409, again.content
    assert again.json()["resourceType"] == "OperationOutcome"
    assert Appointment.objects.count() == before


@pytest.mark.parametrize(
    ("query", "status"),
    [("", 400), ("colour=blue", 400), ("status=booked", 400), ("identifier=x%00y", 400)],
)
def test_bad_conditions_are_a_400(setup: dict[str, Any], query: str, status: int) -> None:
    a: Tenant = setup["a"]
    response = conditional_put(setup["api"], query, sas_booking(a, 10, "sas-4"))
    assert response.status_code == status, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert not AppointmentIdentifier.objects.exists()


def test_changing_or_adding_an_identifier_is_refused_and_if_match_is_honoured(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    api: Api = setup["api"]
    created = api.post("Appointment", sas_booking(a, 10, "sas-5")).json()
    changed = sas_update(created, identifier=[{"system": SAS, "value": "other"}])
    assert conditional_put(api, f"identifier={SAS}|sas-5", changed).status_code == 422
    plain = api.get(f"Appointment/{a.appointment.pk}").json()
    plain["identifier"] = [{"system": SAS, "value": "late"}]
    response = api.put(f"Appointment/{a.appointment.pk}", plain)
    assert response.status_code == 422, response.content
    stale = conditional_put(
        api, f"identifier={SAS}|sas-5", sas_update(created, status="cancelled"), HTTP_IF_MATCH='W/"1"'
    )
    assert stale.status_code == 412
    assert Appointment.objects.get(pk=created["id"]).status == "booked"


def test_another_clients_organization_is_out_of_reach(setup: dict[str, Any], client: Client) -> None:
    a: Tenant = setup["a"]
    b: Tenant = setup["b"]
    api: Api = setup["api"]
    assert api.post("Appointment", sas_booking(a, 10, "sas-6")).status_code == 201
    other_id, other_secret = register_client("Autre")
    grant(other_id, b.org)
    other = Api(client, token(client, other_id, other_secret))
    # For B's client nothing matches: it would create, and A's slot is out of its reach.
    response = conditional_put(other, f"identifier={SAS}|sas-6", sas_booking(a, 11, "sas-6"))
    assert response.status_code == 404, response.content
    assert Appointment.objects.filter(status="booked", organization=a.org).count() == 2


def test_the_capability_statement_declares_the_conditional_update(setup: dict[str, Any]) -> None:
    statement = setup["api"].get("metadata").json()
    appointment = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Appointment")
    assert appointment["conditionalUpdate"] is True
    assert "identifier" in [p["name"] for p in appointment["searchParam"]]
