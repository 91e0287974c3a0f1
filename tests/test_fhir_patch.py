"""JSON Patch on Appointment as a partner uses it: `replace /status` cancels or records a no-show,
`replace /start` moves the appointment through the reschedule service, anything else is refused with a
422 OperationOutcome and changes nothing; If-Match is honoured; organization B's appointment is out of
reach, and a read-only token cannot patch."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from creneau.audit.models import AuditEvent
from creneau.booking.models import Appointment
from creneau.core import clock

from . import factories as f
from .fhir_support import Api, Tenant, grant, register_client, reset_rate_limits, tenant, token

PATCH_TYPE = "application/json-patch+json"


@pytest.fixture
def setup(db: None, monday_morning: None, client: Client) -> dict[str, Any]:
    reset_rate_limits()
    a = tenant("Cabinet A")
    b = tenant("Cabinet B")
    client_id, secret = register_client()
    grant(client_id, a.org)
    return {"a": a, "b": b, "api": Api(client, token(client, client_id, secret))}


def patch(api: Api, path: str, ops: Any, content_type: str = PATCH_TYPE, **headers: Any) -> Any:
    return api.client.patch(
        f"/fhir/R4/{path}",
        ops if isinstance(ops, str) else json.dumps(ops),
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
        **headers,
    )


def test_replace_status_cancelled_cancels_and_is_audited(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    before = AuditEvent.objects.filter(object_type="appointment", action="cancel").count()
    response = patch(
        setup["api"], f"Appointment/{a.appointment.pk}", [{"op": "replace", "path": "/status", "value": "cancelled"}]
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    a.appointment.refresh_from_db()
    assert a.appointment.status == "cancelled"
    assert AuditEvent.objects.filter(object_type="appointment", action="cancel").count() == before + 1


def test_replace_status_noshow_once_the_appointment_has_started(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    ops = [{"op": "replace", "path": "/status", "value": "noshow"}]
    early = patch(setup["api"], f"Appointment/{a.appointment.pk}", ops)
    assert early.status_code == 422, early.content  # not started yet
    assert early.json()["resourceType"] == "OperationOutcome"
    with clock.frozen_at(a.appointment.start_at + dt.timedelta(minutes=40)):
        response = patch(setup["api"], f"Appointment/{a.appointment.pk}", ops)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "noshow"
    a.appointment.refresh_from_db()
    assert a.appointment.status == "no_show"


def test_replace_start_moves_the_appointment_and_the_end_follows(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    new_start = f.paris(2026, 3, 3, 10, 30).astimezone(dt.UTC)
    response = patch(
        setup["api"],
        f"Appointment/{a.appointment.pk}",
        [{"op": "replace", "path": "/start", "value": new_start.isoformat().replace("+00:00", "Z")}],
    )
    assert response.status_code == 200, response.content
    moved = response.json()
    assert moved["start"] == "2026-03-03T09:30:00Z"
    assert moved["end"] == "2026-03-03T10:00:00Z"
    assert response["Content-Location"].endswith(f"/Appointment/{moved['id']}")
    a.appointment.refresh_from_db()
    assert a.appointment.status == "cancelled"
    assert Appointment.objects.get(pk=moved["id"]).rescheduled_from_id == a.appointment.pk


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "replace", "path": "/serviceType/0/text", "value": "Autre"}],
        [{"op": "remove", "path": "/participant/0"}],
        [{"op": "add", "path": "/comment", "value": "x"}],
        [{"op": "replace", "path": "/minutesDuration", "value": 90}],
        [
            {"op": "test", "path": "/status", "value": "cancelled"},
            {"op": "replace", "path": "/status", "value": "cancelled"},
        ],
    ],
    ids=["service-type", "participant", "comment", "duration", "failed-test"],
)
def test_other_paths_and_failed_tests_are_a_422_and_change_nothing(setup: dict[str, Any], ops: Any) -> None:
    a: Tenant = setup["a"]
    response = patch(setup["api"], f"Appointment/{a.appointment.pk}", ops)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error"
    a.appointment.refresh_from_db()
    assert a.appointment.status == "booked"
    assert Appointment.objects.filter(organization=a.org).count() == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", PATCH_TYPE, 400),
        ("[]", PATCH_TYPE, 400),
        (json.dumps({"op": "replace"}), PATCH_TYPE, 400),
        (json.dumps([{"op": "frobnicate", "path": "/status"}]), PATCH_TYPE, 400),
        # An object as op (found by schemathesis once PATCH was in the OpenAPI document): was a 500.
        (json.dumps([{"op": {}, "path": "", "from": "", "value": None}]), PATCH_TYPE, 400),
        (json.dumps([{"op": "replace", "path": "/status"}]), PATCH_TYPE, 400),
        (json.dumps([{"op": "replace", "path": "/status", "value": "cancelled"}]), "application/fhir+json", 415),
    ],
)
def test_malformed_patches_are_4xx_operation_outcomes(
    setup: dict[str, Any], body: str, content_type: str, status: int
) -> None:
    a: Tenant = setup["a"]
    response = patch(setup["api"], f"Appointment/{a.appointment.pk}", body, content_type=content_type)
    assert response.status_code == status, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    a.appointment.refresh_from_db()
    assert a.appointment.status == "booked"


def test_if_match_with_a_stale_version_is_a_412(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    ops = [{"op": "replace", "path": "/status", "value": "cancelled"}]
    stale = patch(api, f"Appointment/{a.appointment.pk}", ops, HTTP_IF_MATCH='W/"1"')
    assert stale.status_code == 412
    a.appointment.refresh_from_db()
    assert a.appointment.status == "booked"
    version = api.get(f"Appointment/{a.appointment.pk}").json()["meta"]["versionId"]
    fresh = patch(api, f"Appointment/{a.appointment.pk}", ops, HTTP_IF_MATCH=f'W/"{version}"')
    assert fresh.status_code == 200, fresh.content


def test_patch_is_scoped_like_every_write(setup: dict[str, Any], client: Client) -> None:
    a: Tenant = setup["a"]
    b: Tenant = setup["b"]
    ops = [{"op": "replace", "path": "/status", "value": "cancelled"}]
    foreign = patch(setup["api"], f"Appointment/{b.appointment.pk}", ops)
    made_up = patch(setup["api"], "Appointment/00000000-0000-0000-0000-000000000000", ops)
    assert foreign.status_code == made_up.status_code == 404
    assert foreign.json() == made_up.json()
    anonymous = client.patch(f"/fhir/R4/Appointment/{a.appointment.pk}", json.dumps(ops), content_type=PATCH_TYPE)
    assert anonymous.status_code == 401
    reader_id, reader_secret = register_client("Lecteur")
    grant(reader_id, a.org, "system/Appointment.rs")
    reader = Api(client, token(client, reader_id, reader_secret))
    assert patch(reader, f"Appointment/{a.appointment.pk}", ops).status_code == 403
    for appointment in (a.appointment, b.appointment):
        appointment.refresh_from_db()
        assert appointment.status == "booked"
