"""IHE ITI Scheduling over the real HTTP API: `$find` proposes what the slot engine has free and only
what the given patient may book; `$hold` holds one through booking's holds; `$book` confirms the hold
or books a proposal with the same rules and audit as POST Appointment. Bad inputs are 400
OperationOutcomes, refusals leave nothing behind, and every call is scoped by the client's grants.
Eligibility (who may book, notice, horizon, channel) is on Slot and HealthcareService."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from creneau.audit.models import AuditEvent
from creneau.booking.models import Appointment
from creneau.scheduling.services import availability_refresh

from . import factories as f
from .fhir_support import Api, Tenant, grant, register_client, reset_rate_limits, tenant, token

DAY = {"start": "2026-03-03", "end": "2026-03-03"}  # tomorrow, Paris: 09:00 is booked, 09:30-11:30 free


@pytest.fixture
def setup(db: None, monday_morning: None, client: Client) -> dict[str, Any]:
    reset_rate_limits()
    a = tenant("Cabinet A")
    b = tenant("Cabinet B")
    client_id, secret = register_client()
    grant(client_id, a.org)
    return {"a": a, "b": b, "api": Api(client, token(client, client_id, secret))}


def parameters(**values: Any) -> dict[str, Any]:
    out = []
    for name, value in values.items():
        for v in value if isinstance(value, list) else [value]:
            key = "valueDateTime" if name in ("start", "end") else "valueString"
            out.append({"name": name.replace("_", "-") if name != "_count" else name, key: v})
    return {"resourceType": "Parameters", "parameter": out}


def appt_parameters(appointment: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": "appt-resource", "resource": appointment}]}


def proposals(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
    return [e["resource"] for e in body.get("entry", [])]


def with_patient(appointment: dict[str, Any], patient_id: object) -> dict[str, Any]:
    out = {k: v for k, v in appointment.items() if k != "participant"}
    others = [p for p in appointment["participant"] if not p["actor"]["reference"].startswith("Patient/")]
    out["participant"] = [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}, *others]
    return out


def test_find_proposes_the_free_slots_of_the_agenda(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    found = proposals(setup["api"].get("Appointment/$find", DAY))
    assert [p["start"] for p in found] == [
        f"2026-03-03T{h}Z" for h in ("08:30:00", "09:00:00", "09:30:00", "10:00:00", "10:30:00")
    ]
    assert {p["status"] for p in found} == {"proposed"}
    slots = setup["api"].get("Slot", {"schedule": a.role_id, "start": ["ge2026-03-03", "le2026-03-03"]}).json()
    assert [p["slot"][0]["reference"] for p in found] == [f"Slot/{e['resource']['id']}" for e in slots["entry"]]
    same = proposals(setup["api"].post("Appointment/$find", parameters(**DAY)))
    assert same == found
    assert Appointment.objects.count() == 2  # the two tenants' bookings: $find writes nothing


def test_find_narrows_by_practitioner_specialty_location_and_visit_reason(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    api: Api = setup["api"]
    assert len(proposals(api.get("Appointment/$find", {**DAY, "practitioner": f"Practitioner/{a.doc.pk}"}))) == 5
    assert proposals(api.get("Appointment/$find", {**DAY, "practitioner": f"Practitioner/{a.org.pk}"})) == []
    assert len(proposals(api.get("Appointment/$find", {**DAY, "specialty": a.doc.specialty_id}))) == 5
    assert proposals(api.get("Appointment/$find", {**DAY, "specialty": "SM99"})) == []
    assert len(proposals(api.get("Appointment/$find", {**DAY, "location": f"Location/{a.site.pk}"}))) == 5
    assert len(proposals(api.get("Appointment/$find", {**DAY, "appointment-type": str(a.motif.pk)}))) == 5
    assert len(proposals(api.get("Appointment/$find", {**DAY, "organization": f"Organization/{a.org.pk}"}))) == 5
    b: Tenant = setup["b"]
    assert proposals(api.get("Appointment/$find", {**DAY, "organization": f"Organization/{b.org.pk}"})) == []


def test_find_with_a_patient_leaves_out_what_that_patient_may_not_book(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    api: Api = setup["api"]
    followed = f.motif(a.doc, minutes=30, audience="returning", name="Suivi")
    availability_refresh(practitioner_ids=[a.doc.pk])
    anyone = proposals(api.get("Appointment/$find", DAY))
    reasons = {p["serviceType"][0]["coding"][0]["code"] for p in anyone}
    assert reasons == {str(a.motif.pk), str(followed.pk)}
    for_patient = proposals(api.get("Appointment/$find", {**DAY, "patient": f"Patient/{a.patient.pk}"}))
    assert for_patient and {p["serviceType"][0]["coding"][0]["code"] for p in for_patient} == {str(a.motif.pk)}
    assert all(p["participant"][0]["actor"]["reference"] == f"Patient/{a.patient.pk}" for p in for_patient)
    # What was left out would indeed be refused, and the refusal leaves nothing behind.
    refused = next(p for p in anyone if p["serviceType"][0]["coding"][0]["code"] == str(followed.pk))
    before = Appointment.objects.count()
    response = api.post("Appointment/$book", appt_parameters(with_patient(refused, a.patient.pk)))
    assert response.status_code == 422, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert Appointment.objects.count() == before
    # The slot said so before anyone tried: its eligibility extension.
    ext = {e["url"].rsplit("/", 1)[-1]: e for e in refused["extension"]}
    assert ext["booking-eligibility"]["valueCodeableConcept"]["coding"][0]["code"] == "returning-patients"


def test_hold_then_book_confirms_through_the_holds_service(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    api: Api = setup["api"]
    first = proposals(api.get("Appointment/$find", DAY))[0]
    held = api.post("Appointment/$hold", appt_parameters(first))
    assert held.status_code == 200, held.content
    hold = held.json()["entry"][0]["resource"]
    assert hold["status"] == "pending"
    assert hold["extension"][0]["url"].endswith("/hold-expires")
    assert Appointment.objects.get(pk=hold["id"]).status == "held"
    # Held: no longer proposed, and another booking of it is refused.
    assert first["start"] not in [p["start"] for p in proposals(api.get("Appointment/$find", DAY))]
    creates = AuditEvent.objects.filter(object_type="appointment", action="create").count()
    booked = api.post("Appointment/$book", appt_parameters(with_patient(hold, a.patient.pk)))
    assert booked.status_code == 200, booked.content
    appointment = booked.json()["entry"][0]["resource"]
    assert appointment["id"] == hold["id"] and appointment["status"] == "booked"
    assert booked["Content-Location"].endswith(f"/Appointment/{hold['id']}")
    assert AuditEvent.objects.filter(object_type="appointment", action="create").count() == creates + 1
    read = api.get(f"Appointment/{hold['id']}")
    assert read.status_code == 200 and read.json()["start"] == first["start"]


def test_book_a_proposal_at_once_and_a_second_booking_of_it_conflicts(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    api: Api = setup["api"]
    first = with_patient(proposals(api.get("Appointment/$find", DAY))[0], a.patient.pk)
    booked = api.post("Appointment/$book", appt_parameters(first))
    assert booked.status_code == 200, booked.content
    assert booked.json()["entry"][0]["resource"]["status"] == "booked"
    again = api.post("Appointment/$book", first)  # a bare Appointment body is accepted too
    assert again.status_code == 409, again.content
    assert again.json()["resourceType"] == "OperationOutcome"
    assert Appointment.objects.filter(organization=a.org, status="booked").count() == 2


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"start": "2026-03-03"}, 400),
        ({**DAY, "colour": "blue"}, 400),
        ({"start": "tomorrow", "end": "2026-03-04"}, 400),
        ({"start": "ge2026-03-03", "end": "2026-03-04"}, 400),
        ({"start": "2026-03-05", "end": "2026-03-04"}, 400),
        ({"start": "2026-03-03", "end": "2026-06-30"}, 400),
        ({**DAY, "practitioner": "Patient/abc"}, 400),
        ({**DAY, "specialty": "SM15\x00"}, 400),
        ({**DAY, "_count": "-1"}, 400),
        ({**DAY, "patient": "Patient/00000000-0000-0000-0000-000000000000"}, 404),
    ],
)
def test_bad_find_inputs_are_4xx_operation_outcomes(setup: dict[str, Any], query: dict[str, str], status: int) -> None:
    response = setup["api"].get("Appointment/$find", query)
    assert response.status_code == status, response.content
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        json.dumps({"resourceType": "Bundle"}),
        json.dumps({"resourceType": "Parameters", "parameter": "start"}),
        json.dumps({"resourceType": "Parameters", "parameter": [{"name": "start", "valueBoolean": True}]}),
        json.dumps({"resourceType": "Parameters", "parameter": [{"name": "start", "valueDateTime": ["x"]}]}),
    ],
)
def test_bad_find_bodies_are_400(setup: dict[str, Any], body: str) -> None:
    response = setup["api"].post("Appointment/$find", body)
    assert response.status_code == 400, response.content
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"resourceType": "Parameters", "parameter": []}, 400),
        (
            {
                "resourceType": "Parameters",
                "parameter": [{"name": "appt-resource", "resource": {"resourceType": "Patient"}}],
            },
            400,
        ),
        ({"resourceType": "Appointment", "status": "proposed", "participant": [{"status": "accepted"}]}, 422),
        (
            {
                "resourceType": "Appointment",
                "status": "proposed",
                "slot": [{"reference": "Slot/forged"}],
                "participant": [{"actor": {"reference": "Location/x"}, "status": "accepted"}],
            },
            404,
        ),
        ({"resourceType": "Appointment", "status": 12}, 400),
    ],
)
def test_bad_hold_and_book_requests_hold_and_book_nothing(
    setup: dict[str, Any], body: dict[str, Any], status: int
) -> None:
    before = Appointment.objects.count()
    for op in ("$hold", "$book"):
        response = setup["api"].post(f"Appointment/{op}", body)
        expected = 422 if op == "$book" and status == 404 else status  # $book needs a patient first
        assert response.status_code == expected, (op, response.content)
        assert response.json()["resourceType"] == "OperationOutcome"
    assert Appointment.objects.count() == before


def test_operations_are_scoped_by_the_clients_grants(setup: dict[str, Any], client: Client) -> None:
    a: Tenant = setup["a"]
    b: Tenant = setup["b"]
    api: Api = setup["api"]
    b_slot = proposals(
        Api(client, None).get("Slot", {"schedule": b.role_id, "start": ["ge2026-03-03", "le2026-03-03"]})
    )[0]
    foreign = {
        "resourceType": "Appointment",
        "status": "proposed",
        "slot": [{"reference": f"Slot/{b_slot['id']}"}],
        "participant": [{"actor": {"reference": f"Patient/{b.patient.pk}"}, "status": "accepted"}],
    }
    before = Appointment.objects.count()
    assert api.post("Appointment/$hold", appt_parameters(foreign)).status_code == 404
    assert api.post("Appointment/$book", appt_parameters(foreign)).status_code == 404
    assert api.get("Appointment/$find", {**DAY, "patient": f"Patient/{b.patient.pk}"}).status_code == 404
    assert Appointment.objects.count() == before
    assert Api(client, None).get("Appointment/$find", DAY).status_code == 401
    reader_id, reader_secret = register_client("Lecteur")
    grant(reader_id, a.org, "system/Slot.rs")
    reader = Api(client, token(client, reader_id, reader_secret))
    assert len(proposals(reader.get("Appointment/$find", DAY))) == 5  # slots only: no patient
    first = proposals(reader.get("Appointment/$find", DAY))[0]
    assert reader.post("Appointment/$hold", appt_parameters(first)).status_code == 403
    assert reader.get("Appointment/$find", {**DAY, "patient": f"Patient/{a.patient.pk}"}).status_code == 403
    # Another client's hold cannot be booked by this one.
    held = api.post("Appointment/$hold", appt_parameters(first)).json()["entry"][0]["resource"]
    other_id, other_secret = register_client("Autre")
    grant(other_id, a.org)
    other = Api(client, token(client, other_id, other_secret))
    assert other.post("Appointment/$book", appt_parameters(with_patient(held, a.patient.pk))).status_code == 404
    assert Appointment.objects.get(pk=held["id"]).status == "held"


def test_eligibility_is_on_the_healthcare_service_and_the_slot(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    video = f.motif(a.doc, minutes=30, audience="new", notice=120, horizon=30, name="Téléconsultation")
    video.channel = "video"
    video.min_age_years = 18
    video.save()
    service = setup["api"].get(f"HealthcareService/{video.pk}").json()
    assert service["appointmentRequired"] is True
    assert service["eligibility"][0]["code"]["coding"][0]["code"] == "new-patients"
    ext = {e["url"].rsplit("/", 1)[-1]: e for e in service["extension"]}
    assert ext["booking-minimum-notice"]["valueDuration"]["value"] == 120
    assert ext["booking-horizon"]["valueDuration"] == {
        "value": 30,
        "unit": "d",
        "system": "http://unitsofmeasure.org",
        "code": "d",
    }
    assert ext["booking-channel"]["valueCoding"]["code"] == "VR"
    assert ext["bookable-online"]["valueBoolean"] is True
    assert ext["booking-patient-age"]["valueRange"]["low"]["value"] == 18
    availability_refresh(practitioner_ids=[a.doc.pk])
    slots = setup["api"].get("Slot", {"service-type": str(video.pk), "start": "ge2026-03-03"}).json()
    slot_ext = {e["url"].rsplit("/", 1)[-1]: e for e in slots["entry"][0]["resource"]["extension"]}
    assert slot_ext["booking-eligibility"]["valueCodeableConcept"]["coding"][0]["code"] == "new-patients"
    assert slot_ext["booking-channel"]["valueCoding"]["code"] == "VR"


def test_the_capability_statement_declares_the_ihe_operations(setup: dict[str, Any]) -> None:
    statement = setup["api"].get("metadata").json()
    appointment = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Appointment")
    assert {o["name"]: o["definition"] for o in appointment["operation"]} == {
        "find": "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-find",
        "hold": "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-hold",
        "book": "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-book",
    }
    assert "patch" in [i["code"] for i in appointment["interaction"]]
