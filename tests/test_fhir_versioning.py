"""Versions and write semantics as partners rely on them: meta.versionId and ETag, If-Match, conditional
create, Prefer return=minimal, rescheduling through PUT, immutable elements refused, JSON only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from creneau.booking.models import Appointment
from creneau.patients.models import Patient

from .fhir_support import FHIR, Api, Tenant, grant, register_client, reset_rate_limits, tenant, token


@pytest.fixture
def setup(db: None, monday_morning: None, client: Client) -> dict[str, Any]:
    reset_rate_limits()
    a = tenant("Cabinet A")
    client_id, secret = register_client()
    grant(client_id, a.org)
    return {"a": a, "api": Api(client, token(client, client_id, secret))}


def put(api: Api, path: str, body: dict[str, Any], **headers: Any) -> Any:
    return api.client.put(
        f"/fhir/R4/{path}", json.dumps(body), content_type=FHIR, HTTP_AUTHORIZATION=f"Bearer {api.token}", **headers
    )


def test_a_read_carries_its_version_as_etag_and_last_modified(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    response = setup["api"].get(f"Appointment/{a.appointment.pk}")
    version = response.json()["meta"]["versionId"]
    assert response["ETag"] == f'W/"{version}"'
    assert response["Last-Modified"].endswith("GMT")


def test_if_match_with_a_stale_version_is_a_412_and_changes_nothing(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    current = api.get(f"Appointment/{a.appointment.pk}").json()
    current["status"] = "cancelled"
    stale = put(api, f"Appointment/{a.appointment.pk}", current, HTTP_IF_MATCH='W/"1"')
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    a.appointment.refresh_from_db()
    assert a.appointment.status == "booked"
    fresh = put(api, f"Appointment/{a.appointment.pk}", current, HTTP_IF_MATCH=f'W/"{current["meta"]["versionId"]}"')
    assert fresh.status_code == 200, fresh.content
    assert fresh.json()["status"] == "cancelled"


def test_a_put_changing_start_and_end_moves_the_appointment(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    current = api.get(f"Appointment/{a.appointment.pk}").json()
    current["start"], current["end"] = "2026-03-03T09:30:00Z", "2026-03-03T10:00:00Z"
    response = put(api, f"Appointment/{a.appointment.pk}", current)
    assert response.status_code == 200, response.content
    moved = response.json()
    assert moved["start"] == "2026-03-03T09:30:00Z"
    assert response["Content-Location"].endswith(f"/Appointment/{moved['id']}")
    a.appointment.refresh_from_db()
    assert a.appointment.status == "cancelled"
    assert Appointment.objects.get(pk=moved["id"]).rescheduled_from_id == a.appointment.pk


def test_a_put_with_a_wrong_duration_or_another_visit_reason_is_refused(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    current = api.get(f"Appointment/{a.appointment.pk}").json()
    longer = {**current, "start": "2026-03-03T09:30:00Z", "end": "2026-03-03T11:00:00Z"}
    assert put(api, f"Appointment/{a.appointment.pk}", longer).status_code == 422
    other = {**current, "serviceType": [{"text": "Autre chose"}]}
    assert put(api, f"Appointment/{a.appointment.pk}", other).status_code == 422
    a.appointment.refresh_from_db()
    assert a.appointment.status == "booked"
    assert Appointment.objects.count() == 1


def test_prefer_return_minimal_answers_without_a_body(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    current = api.get(f"Appointment/{a.appointment.pk}").json()
    current["status"] = "cancelled"
    response = put(api, f"Appointment/{a.appointment.pk}", current, HTTP_PREFER="return=minimal")
    assert response.status_code == 200
    assert response.content == b""
    assert response["ETag"].startswith('W/"')


def test_xml_is_not_acceptable_and_not_accepted(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {api.token}"}
    read = api.client.get(f"/fhir/R4/Appointment/{a.appointment.pk}", HTTP_ACCEPT="application/fhir+xml", **auth)
    assert read.status_code == 406
    assert read.json()["resourceType"] == "OperationOutcome"
    assert api.client.get("/fhir/R4/Practitioner", {"_format": "xml"}, **auth).status_code == 406
    sent = api.client.post("/fhir/R4/Patient", "<Patient/>", content_type="application/fhir+xml", **auth)
    assert sent.status_code == 415


def test_a_conditional_create_does_not_make_a_second_patient(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    body = {
        "resourceType": "Patient",
        "name": [{"family": "Durand", "given": ["Léa"]}],
        "birthDate": "1990-04-02",
        "managingOrganization": {"reference": f"Organization/{a.org.pk}"},
    }
    condition = "family=Durand&birthdate=1990-04-02"
    first = api.post("Patient", body, HTTP_IF_NONE_EXIST=condition)
    assert first.status_code == 201, first.content
    again = api.post("Patient", body, HTTP_IF_NONE_EXIST=condition)
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert Patient.objects.count() == 2  # the tenant's own patient and Léa Durand
    bad = api.post("Patient", body, HTTP_IF_NONE_EXIST="nickname=Lea")
    assert bad.status_code == 400
