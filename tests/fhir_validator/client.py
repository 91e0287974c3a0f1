"""The test client of the FHIR tests: every answer under /fhir/ that is FHIR JSON is checked against the
independent R4 schema (and against the served OpenAPI document) before the test sees it."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from . import assert_valid

FHIR_PREFIX = "/fhir/"


def check_response(response: Any, method: str, path: str) -> Any:
    """Validate one Django test response (once); return it."""
    if getattr(response, "_fhir_checked", False):
        return response
    response._fhir_checked = True
    if not path.startswith(FHIR_PREFIX) or getattr(response, "streaming", False):
        return response
    content_type = response.get("Content-Type", "")
    if not content_type.startswith(("application/fhir+json", "application/json")) or not response.content:
        return response
    body = json.loads(response.content)
    context = f"{method} {path} -> {response.status_code}"
    if content_type.startswith("application/fhir+json"):
        assert isinstance(body, dict) and "resourceType" in body, f"{context}: FHIR JSON without resourceType"
    if isinstance(body, dict) and "resourceType" in body:
        assert_valid(body, context)
    return response


class FhirCheckingClient(Client):
    """Django's test client; FHIR answers are validated as they arrive."""

    def request(self, **request: Any) -> Any:
        response = super().request(**request)
        return check_response(response, str(request.get("REQUEST_METHOD", "GET")), str(request.get("PATH_INFO", "")))
