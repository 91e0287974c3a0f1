"""A real FHIR client (fhirpy) over real HTTP against the live test server: it gets a token with
OAuth2 client credentials, searches free slots, books one, reads it back and cancels it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome

from creneau.core import clock
from creneau.fhir.mappers.common import model_class

from . import factories as f
from .fhir_support import grant, register_client, reset_rate_limits, tenant


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
