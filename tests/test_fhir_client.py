"""Real FHIR clients over real HTTP against the live test server: fhirpy (Python) and fhir-kit-client
(Node, from npm): each gets a token with OAuth2 client credentials, searches free slots, books one,
reads it back and cancels it. What they receive is checked by the independent R4 validator too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome

from creneau.booking.models import Appointment, Status
from creneau.core import clock
from creneau.fhir.mappers.common import RPPS_SYSTEM, model_class

from . import factories as f
from .fhir_support import grant, register_client, reset_rate_limits, tenant
from .fhir_validator import HERE, INSTALL_HINT, assert_valid


@pytest.fixture
def frozen() -> Iterator[None]:
    with clock.frozen_at(f.paris(2026, 3, 2, 7, 0)):
        yield


@pytest.mark.django_db(transaction=True)
def test_a_fhir_client_searches_slots_books_and_cancels(live_server: Any, frozen: None) -> None:
    reset_rate_limits()
    a = tenant("Cabinet A")
    b = tenant("Cabinet B")
    client_id, secret = register_client()
    grant(client_id, a.org, "system/*.rs system/Appointment.cruds system/Patient.rs")
    base = f"{live_server.url}/fhir/R4"

    discovery = requests.get(f"{base}/.well-known/smart-configuration", timeout=10).json()
    issued = requests.post(
        discovery["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "system/Slot.rs system/Appointment.cruds"},
        auth=(client_id, secret),
        timeout=10,
    )
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] <= 300

    fhir = SyncFHIRClient(base, authorization=f"Bearer {body['access_token']}")
    slots = (
        fhir.resources("Slot")
        .search(schedule=f"Schedule/{a.role_id}", status="free", start__ge="2026-03-03")
        .limit(5)
        .fetch()
    )
    assert len(slots) == 5
    for slot in slots:
        model_class("Slot").model_validate(slot.serialize())
        assert_valid(slot.serialize(), "Slot from fhirpy")
    assert all(s["status"] == "free" for s in slots)

    chosen = slots[0]
    appointment = fhir.resource(
        "Appointment",
        status="booked",
        slot=[chosen.to_reference()],
        participant=[{"actor": {"reference": f"Patient/{a.patient.pk}"}, "status": "accepted"}],
    )
    appointment.save()
    assert appointment.id
    assert appointment["start"] == chosen["start"]

    read = fhir.reference("Appointment", appointment.id).to_resource()
    model_class("Appointment").model_validate(read.serialize())
    assert_valid(read.serialize(), "Appointment from fhirpy")
    assert read["status"] == "booked"

    # The slot is no longer offered.
    again = fhir.resources("Slot").search(schedule=f"Schedule/{a.role_id}", start__ge="2026-03-03").limit(5).fetch()
    assert chosen.id not in {s.id for s in again}

    # Booking it a second time is a conflict, answered as an OperationOutcome.
    duplicate = fhir.resource(
        "Appointment",
        status="booked",
        slot=[chosen.to_reference()],
        participant=[{"actor": {"reference": f"Patient/{a.patient.pk}"}, "status": "accepted"}],
    )
    with pytest.raises(OperationOutcome):
        duplicate.save()

    read["status"] = "cancelled"
    read.save()
    assert fhir.reference("Appointment", appointment.id).to_resource()["status"] == "cancelled"

    # Organization B stays out of reach, over HTTP as in-process.
    assert fhir.resources("Slot").search(schedule=f"Schedule/{b.role_id}").fetch() == []
    blocked = requests.get(
        f"{base}/Appointment/{b.appointment.pk}",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=10,
    )
    assert blocked.status_code == 404
    assert blocked.headers["Content-Type"].startswith("application/fhir+json")


@pytest.mark.django_db(transaction=True)
def test_simultaneous_bookings_of_one_slot_give_one_201_and_409s(live_server: Any, frozen: None) -> None:
    """Several partner requests race for the same slot over HTTP: the database lets exactly one win;
    the others get a 409 OperationOutcome."""
    import datetime as dt
    from concurrent.futures import ThreadPoolExecutor

    from creneau.patients.services import patient_create_for_organization

    reset_rate_limits()
    a = tenant("Cabinet A")
    patients = [
        patient_create_for_organization(
            actor=a.staff,
            organization_id=a.org.pk,
            family_name=f"Course{i}",
            given_name="Zoé",
            birth_date=dt.date(1990, 1, 1 + i),
        )
        for i in range(4)
    ]
    client_id, secret = register_client()
    grant(client_id, a.org, "system/Appointment.cruds")
    base = f"{live_server.url}/fhir/R4"
    access = requests.post(
        f"{base}/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10
    ).json()["access_token"]
    slot = a.slot_id(f.paris(2026, 3, 4, 10, 0))

    def book(patient_id: object) -> tuple[int, str]:
        response = requests.post(
            f"{base}/Appointment",
            json={
                "resourceType": "Appointment",
                "status": "booked",
                "slot": [{"reference": f"Slot/{slot}"}],
                "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
            },
            headers={"Authorization": f"Bearer {access}", "Content-Type": "application/fhir+json"},
            timeout=30,
        )
        return response.status_code, response.json()["resourceType"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(book, [p.pk for p in patients]))
    assert sorted(status for status, _type in results) == [201, 409, 409, 409]
    assert {rtype for status, rtype in results if status == 409} == {"OperationOutcome"}


def _node_flow() -> list[str]:
    node = shutil.which("node")
    installed = (HERE / "node_modules" / "fhir-kit-client" / "package.json").exists()
    if node is None or not installed:
        if os.environ.get("CI") == "true":
            pytest.fail(f"fhir-kit-client needs node and its install: {INSTALL_HINT}")
        pytest.skip(f"fhir-kit-client not installed: {INSTALL_HINT}")
    return [node, str(HERE / "partner_flow.mjs")]


@pytest.mark.django_db(transaction=True)
def test_fhir_kit_client_finds_a_practitioners_slot_by_rpps_books_reads_and_cancels(
    live_server: Any, frozen: None
) -> None:
    command = _node_flow()
    reset_rate_limits()
    a = tenant("Cabinet A")
    tenant("Cabinet B")
    client_id, secret = register_client()
    grant(client_id, a.org, "system/*.rs system/Appointment.cruds")
    run = subprocess.run(
        command,
        env={
            "PATH": os.environ.get("PATH", ""),
            "FHIR_BASE": f"{live_server.url}/fhir/R4",
            "CLIENT_ID": client_id,
            "CLIENT_SECRET": secret,
            "PRACTITIONER_IDENTIFIER": f"{RPPS_SYSTEM}|8{a.doc.rpps}",
            "PATIENT_ID": str(a.patient.pk),
            "START_GE": "2026-03-03",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)

    assert seen["metadata"]["fhirVersion"] == "4.0.1"
    assert seen["tokenUrl"] == f"{live_server.url}/fhir/R4/auth/token"
    assert seen["token_type"] == "Bearer"
    slots = [e["resource"] for e in seen["slots"].get("entry", []) if e["resource"]["resourceType"] == "Slot"]
    assert slots and all(s["status"] == "free" and s["start"] >= "2026-03-03" for s in slots)
    assert all(s["schedule"]["reference"] == f"Schedule/{a.role_id}" for s in slots)
    assert seen["created"]["status"] == "booked" and seen["created"]["start"] == seen["chosen"]["start"]
    assert seen["read"]["id"] == seen["created"]["id"]
    assert seen["cancelled"]["status"] == "cancelled" and seen["reread"]["status"] == "cancelled"
    for name in ("metadata", "slots", "created", "read", "cancelled", "reread"):
        assert_valid(seen[name], f"{name} from fhir-kit-client")

    booked = Appointment.objects.get(pk=seen["created"]["id"])
    assert booked.patient_id == a.patient.pk
    assert booked.status == Status.CANCELLED
