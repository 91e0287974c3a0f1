"""The test client of the FHIR tests: every answer under /fhir/ is checked against the served OpenAPI
document (documented status, content type, schema) and, when FHIR JSON, against the independent R4
schema, before the test sees it."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from . import assert_valid
from .openapi_check import assert_documented

FHIR_PREFIX = "/fhir/"


def check_response(response: Any, method: str, path: str) -> Any:
    """Validate one Django test response (once); return it."""
    if getattr(response, "_fhir_checked", False):
        return response
    response._fhir_checked = True
    if not path.startswith(FHIR_PREFIX) or getattr(response, "streaming", False):
        return response
    content_type = response.get("Content-Type", "")
    json_body = content_type.startswith(("application/fhir+json", "application/json")) and bool(response.content)
    body = json.loads(response.content) if json_body else None
    if method != "HEAD":
        assert_documented(method, path, response.status_code, content_type, body if json_body else None)
    if body is None:
        return response
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
