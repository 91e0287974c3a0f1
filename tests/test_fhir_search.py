"""Exact FHIR search as partners and the SAS use it: what the CapabilityStatement lists is applied,
anything else is refused (strict) or reported and left out of the self link (lenient), never a
silently wider answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from creneau.fhir.mappers.common import RPPS_SYSTEM

from .fhir_support import FHIR, Api, Tenant, grant, register_client, reset_rate_limits, tenant, token

CHAIN = "schedule.actor:Practitioner.identifier"


@pytest.fixture
def setup(db: None, monday_morning: None, client: Client) -> dict[str, Any]:
    reset_rate_limits()
    a = tenant("Cabinet A")
    b = tenant("Cabinet B")
    client_id, secret = register_client()
    grant(client_id, a.org)
    grant(client_id, b.org)
    return {"a": a, "b": b, "api": Api(client, token(client, client_id, secret)), "client": client}


def self_params(bundle: dict[str, Any]) -> dict[str, list[str]]:
    url = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    return parse_qs(urlsplit(url).query)


def matches(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def outcomes(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "outcome"]


def national_id(t: Tenant) -> str:
    return f"{RPPS_SYSTEM}|8{t.doc.rpps}"


@pytest.mark.parametrize("param", ["patient.family", "name:exact", "foo", "_has:Appointment:patient:status"])
def test_an_unsupported_parameter_is_reported_and_left_out_of_the_self_link(setup: dict[str, Any], param: str) -> None:
    response = setup["api"].get("Appointment", {param: "Zzzz", "status": "booked"})
    assert response.status_code == 200, response.content
    bundle = response.json()
    assert param not in self_params(bundle)
    assert self_params(bundle)["status"] == ["booked"]
    [warning] = outcomes(bundle)
    assert warning["issue"][0]["severity"] == "warning"
    assert warning["issue"][0]["expression"] == [param]


def test_under_strict_handling_an_unsupported_parameter_is_a_400(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    response = api.client.get(
        "/fhir/R4/Practitioner",
        {"name:exact": "Zzzz"},
        HTTP_ACCEPT=FHIR,
        HTTP_PREFER="handling=strict",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert "name:exact" in body["issue"][0]["diagnostics"]


def test_an_unsupported_include_value_is_not_applied(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    bundle = setup["api"].get("Slot", {"schedule": f"Schedule/{a.role_id}", "_include": "Slot:foo"}).json()
    assert "_include" not in self_params(bundle)
    assert outcomes(bundle)
    assert all(e["search"]["mode"] != "include" for e in bundle["entry"])


def test_a_control_character_in_a_parameter_is_a_400(setup: dict[str, Any]) -> None:
    response = setup["api"].get("Practitioner", {"name": "Gu\x00erin"})
    assert response.status_code == 400
    assert "\x00" not in response.content.decode()


def test_appointments_by_actor_location_and_practitioner(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a, b = setup["a"], setup["b"]
    assert api.get("Appointment").json()["total"] == 2
    for params in (
        {"actor": f"Practitioner/{a.doc.pk}"},
        {"actor": f"Location/{a.site.pk}"},
        {"actor": f"Patient/{a.patient.pk}"},
        {"actor": f"PractitionerRole/{a.role_id}"},
        {"practitioner": str(a.doc.pk)},
        {"location": f"Location/{a.site.pk}"},
        {"patient": f"Patient/{a.patient.pk}"},
    ):
        bundle = api.get("Appointment", params).json()
        assert bundle["total"] == 1, params
        assert [r["id"] for r in matches(bundle)] == [str(a.appointment.pk)]
    both = api.get("Appointment", {"actor": f"Practitioner/{a.doc.pk},Practitioner/{b.doc.pk}"}).json()
    assert both["total"] == 2
    assert (
        api.get("Appointment", {"actor": f"Practitioner/{a.doc.pk}", "location": str(b.site.pk)}).json()["total"] == 0
    )


def test_appointments_sort_descending_and_count_summary(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a, b = setup["a"], setup["b"]
    b.appointment.refresh_from_db()
    ordered = [r["id"] for r in matches(api.get("Appointment", {"_sort": "-_lastUpdated"}).json())]
    assert ordered == [str(b.appointment.pk), str(a.appointment.pk)]
    count = api.get("Appointment", {"_summary": "count"}).json()
    assert count["total"] == 2
    assert "entry" not in count


def test_elements_keep_only_the_listed_elements_and_the_mandatory_ones(setup: dict[str, Any]) -> None:
    bundle = setup["api"].get("Appointment", {"_elements": "start"}).json()
    for resource in matches(bundle):
        # status and participant are mandatory in R4 (1..1, 1..*): a subset keeps them.
        assert set(resource) == {"resourceType", "id", "meta", "status", "start", "participant"}
        assert resource["meta"]["tag"][-1]["code"] == "SUBSETTED"


def test_practitioner_name_is_accent_insensitive_starts_with_and_comma_or(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a, b = setup["a"], setup["b"]
    a.doc.family_name = "Guérin"
    a.doc.save()
    b.doc.family_name = "Lefèvre"
    b.doc.save()
    assert [r["id"] for r in matches(api.get("Practitioner", {"name": "guerin"}).json())] == [str(a.doc.pk)]
    assert [r["id"] for r in matches(api.get("Practitioner", {"name": "GUÉR"}).json())] == [str(a.doc.pk)]
    assert api.get("Practitioner", {"name": "uerin"}).json()["total"] == 0  # starts-with, not contains
    assert api.get("Practitioner", {"name": "guerin,lefevre"}).json()["total"] == 2
    assert api.get("Practitioner", {"name": "Zzzz"}).json()["total"] == 0


def test_practitioner_by_identifier_with_its_roles(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    bundle = (
        setup["api"]
        .get("Practitioner", {"identifier": national_id(a), "_revinclude": "PractitionerRole:practitioner"})
        .json()
    )
    assert bundle["total"] == 1
    included = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert [(r["resourceType"], r["id"]) for r in included] == [("PractitionerRole", a.role_id)]


def test_the_sas_slot_search_answers_only_the_named_practitioners_with_schedules_and_actors(
    setup: dict[str, Any],
) -> None:
    a, b = setup["a"], setup["b"]
    query = {
        "start": ["ge2026-03-03T00:00:00+01:00", "le2026-03-04T00:00:00+01:00"],
        CHAIN: national_id(a),
        "status": "free",
        "_include": "Slot:schedule",
        "_include:iterate": "Schedule:actor",
        "_count": "100",
    }
    bundle = setup["api"].get("Slot", query).json()
    slots = matches(bundle)
    assert bundle["total"] == len(slots) == 5  # 09:30..11:30, 09:00 is booked
    assert {s["schedule"]["reference"] for s in slots} == {f"Schedule/{a.role_id}"}
    assert all(s["appointmentType"]["coding"][0]["code"] == "ROUTINE" for s in slots)
    included = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"][len(slots) :]}
    assert included == {
        ("Schedule", a.role_id),
        ("Practitioner", str(a.doc.pk)),
        ("PractitionerRole", a.role_id),
        ("Location", str(a.site.pk)),
    }
    assert CHAIN in self_params(bundle)
    both = setup["api"].get("Slot", {**query, CHAIN: f"{national_id(a)},{national_id(b)}"}).json()
    assert {s["schedule"]["reference"] for s in matches(both)} == {f"Schedule/{a.role_id}", f"Schedule/{b.role_id}"}
    nobody = setup["api"].get("Slot", {**query, CHAIN: f"{RPPS_SYSTEM}|810000000000"}).json()
    assert nobody["total"] == 0


def test_the_sas_slot_search_takes_at_most_25_practitioners(setup: dict[str, Any]) -> None:
    values = ",".join(f"{RPPS_SYSTEM}|8{n:011d}" for n in range(26))
    response = setup["api"].get("Slot", {CHAIN: values, "status": "free"})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_walk_in_slots_are_none_of_ours(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    bundle = setup["api"].get("Slot", {"schedule": a.role_id, "appointment-type": "WALKIN"}).json()
    assert bundle["total"] == 0


def test_post_search_with_a_form_body_answers_as_get(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    got = api.get("Appointment", {"practitioner": str(a.doc.pk)}).json()
    posted = api.client.post(
        "/fhir/R4/Appointment/_search",
        f"practitioner={a.doc.pk}",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert posted.status_code == 200, posted.content
    assert [r["id"] for r in matches(posted.json())] == [r["id"] for r in matches(got)]
    assert posted.json()["total"] == 1
    wrong = api.client.post(
        "/fhir/R4/Appointment/_search", "{}", content_type=FHIR, HTTP_AUTHORIZATION=f"Bearer {api.token}"
    )
    assert wrong.status_code == 415


def test_the_capability_statement_lists_includes_and_chains(setup: dict[str, Any]) -> None:
    body = setup["api"].get("metadata").json()
    slot = next(r for r in body["rest"][0]["resource"] if r["type"] == "Slot")
    assert {"Slot:schedule", "Schedule:actor"} <= set(slot["searchInclude"])
    assert "appointment-type" in {p["name"] for p in slot["searchParam"]}
    appointment = next(r for r in body["rest"][0]["resource"] if r["type"] == "Appointment")
    assert {"actor", "location", "practitioner", "patient", "date", "status", "_lastUpdated"} <= {
        p["name"] for p in appointment["searchParam"]
    }
