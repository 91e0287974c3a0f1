"""Every FHIR answer the tests receive, checked against the OpenAPI document the server publishes
(`/fhir/R4/openapi.json`, fetched once per session): the path and method are documented, so is the
status code and the content type, and the body matches the documented schema (the R4 JSON schemas of
the resources, generated from HL7's). The idea of Zulip's OpenAPI-validating test client."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from django.test import Client

BASE = "/fhir/R4"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


@functools.cache
def served_document() -> dict[str, Any]:
    response = Client().get(f"{BASE}/openapi.json")
    assert response.status_code == 200, "the OpenAPI document is not served"
    document: dict[str, Any] = response.json()
    return document


@functools.cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    """Documented paths as patterns, literal ones (`/Slot/_search`) before templated ones (`/Slot/{id}`);
    an id never starts with `$` (that is an operation, `/Appointment/$find`)."""
    paths = served_document()["paths"]
    ordered = sorted(paths, key=lambda p: (p.count("{"), -len(p)))
    return [(re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/$][^/]*", re.escape(p)) + "$"), p) for p in ordered]


@functools.cache
def _validator(schema_text: str) -> Any:
    import jsonschema_rs

    components = served_document()["components"]
    return jsonschema_rs.validator_for(
        {"$schema": DIALECT, "components": components, "allOf": [json.loads(schema_text)]}
    )


def problems(method: str, path: str, status: int, content_type: str, body: Any) -> list[str]:
    """What in this answer the served document does not describe (empty when all is documented)."""
    if not path.startswith(BASE + "/"):
        return []
    local = path.removeprefix(BASE)
    template = next((p for pattern, p in _routes() if pattern.match(local)), None)
    if template is None:
        return []  # an unknown path (404) or one outside the document (token, discovery)
    operation = served_document()["paths"][template].get(method.lower())
    if operation is None:
        return [] if status == 405 else [f"{method} {template} is not documented (answered {status})"]
    responses = operation.get("responses", {})
    answer = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
    if answer is None:
        return [f"{method} {template}: status {status} is not documented"]
    if body is None:
        return []
    media = content_type.split(";")[0].strip()
    content = answer.get("content", {})
    if media not in content:
        return [f"{method} {template} {status}: content type {media!r} is not documented"]
    schema = content[media].get("schema")
    if schema is None:
        return []
    return [
        f"{method} {template} {status}: /{'/'.join(str(p) for p in e.instance_path)}: {e.message[:300]}"
        for e in _validator(json.dumps(schema, sort_keys=True)).iter_errors(body)
    ][:20]


def assert_documented(method: str, path: str, status: int, content_type: str, body: Any) -> None:
    found = problems(method, path, status, content_type, body)
    if found:
        raise AssertionError("answer not as the served OpenAPI document says:\n  " + "\n  ".join(found))
