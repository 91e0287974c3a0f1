"""schemathesis against the published OpenAPI document, with a valid token: whatever it sends, the
API never answers 5xx and every answer conforms to the document (status, content type, schema)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
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

from .fhir_support import grant, register_client, reset_rate_limits, tenant, token
from .fhir_validator import assert_valid

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
