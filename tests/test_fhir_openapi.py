"""schemathesis against the published OpenAPI document, with a valid token: whatever it sends, the
API never answers 5xx and every answer conforms to the document (status, content type, schema)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.specs.openapi import checks as openapi_checks

from creneau.fhir.capabilities import RESOURCES
from creneau.fhir.openapi import R4_SCHEMAS

from . import fhir_validator
from .fhir_support import FHIR, grant, register_client, reset_rate_limits, tenant, token
from .fhir_validator import assert_valid
from .fhir_validator.openapi_check import problems

schema = schemathesis.openapi.from_wsgi("/fhir/R4/openapi.json", get_wsgi_application())
CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]


@contextlib.contextmanager
def in_process_db() -> Iterator[None]:
    """Requests go through the WSGI handler in this thread: keep the test's database connection
    open across them, as Django's test client does (which reconnects the handlers after each of its
    own requests, hence a context around each call)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db: None, monday_morning: None, client: Client) -> dict[str, str]:
    reset_rate_limits()
    a = tenant("Cabinet A")
    tenant("Cabinet B")
    client_id, secret = register_client()
    grant(client_id, a.org)
    return {"Authorization": f"Bearer {token(client, client_id, secret)}"}


def test_the_openapi_document_is_served_at_a_stable_url(client: Client) -> None:
    response = client.get("/fhir/R4/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/Slot" in document["paths"] and "/Appointment/{id}" in document["paths"]


def _builder() -> object:
    path = Path(__file__).resolve().parent.parent / "scripts" / "build_fhir_schemas.py"
    spec = importlib.util.spec_from_file_location("build_fhir_schemas", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_resource_schemas_are_hl7_r4s_as_rebuilt_from_the_npm_package() -> None:
    """creneau/fhir/data/r4_schemas.json is what scripts/build_fhir_schemas.py makes of HL7's schema."""
    builder: Any = _builder()
    assert set(RESOURCES) <= set(builder.SERVED)
    if not fhir_validator.available():
        pytest.skip(fhir_validator.INSTALL_HINT)
    assert json.loads(R4_SCHEMAS.read_text()) == builder.build(builder.DEFAULT_SOURCE), (
        "stale: run .venv/bin/python scripts/build_fhir_schemas.py"
    )


def test_the_served_document_has_the_r4_schemas_and_the_check_holds_answers_to_them(client: Client) -> None:
    document = client.get("/fhir/R4/openapi.json").json()
    slot = document["components"]["schemas"]["Slot"]
    assert slot["additionalProperties"] is False and "schedule" in slot["required"]
    assert {"Appointment_Participant", "OperationOutcome_Issue", "Bundle_Entry"} <= set(
        document["components"]["schemas"]
    )
    fine = {"resourceType": "Slot", "id": "x", "status": "free", "schedule": {"reference": "Schedule/y"}}
    fine |= {"start": "2026-03-03T09:00:00+01:00", "end": "2026-03-03T09:30:00+01:00"}
    assert problems("GET", "/fhir/R4/Slot/x", 200, FHIR, fine) == []
    wrong = fine | {"status": "open", "comment": 3}
    found = problems("GET", "/fhir/R4/Slot/x", 200, FHIR, wrong)
    assert any("/status" in p for p in found) and any("/comment" in p for p in found)
    assert problems("GET", "/fhir/R4/Slot/x", 418, FHIR, fine) == ["GET /Slot/{id}: status 418 is not documented"]
    assert problems("DELETE", "/fhir/R4/Slot/x", 204, FHIR, None) == [
        "DELETE /Slot/{id} is not documented (answered 204)"
    ]


@schema.parametrize()
@settings(
    # Kept small for CI; raise CRENEAU_SCHEMATHESIS_EXAMPLES for a deeper local run.
    max_examples=int(os.environ.get("CRENEAU_SCHEMATHESIS_EXAMPLES", "6")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_openapi_document(case: Any, bearer: dict[str, str]) -> None:
    with in_process_db():
        response = case.call_and_validate(headers=bearer, checks=CHECKS)
    content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type", [""])[0]
    if content_type.startswith("application/fhir+json") and response.content:
        assert_valid(response.json(), f"{case.method} {case.formatted_path} -> {response.status_code}")


@pytest.mark.postgres
@schema.include(method="GET", path_regex=r"^/[A-Za-z]+$").parametrize()
@settings(
    # PostgreSQL refuses what SQLite stores (NUL bytes in text): the searches, with more examples.
    max_examples=int(os.environ.get("CRENEAU_SCHEMATHESIS_EXAMPLES", "6")) * 2,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_searches_conform_on_postgresql(case: Any, bearer: dict[str, str]) -> None:
    with in_process_db():
        response = case.call_and_validate(headers=bearer, checks=CHECKS)
    content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type", [""])[0]
    if content_type.startswith("application/fhir+json") and response.content:
        assert_valid(response.json(), f"{case.method} {case.formatted_path} -> {response.status_code}")
