"""The CapabilityStatement and the OpenAPI 3.0 document, both generated from `capabilities.RESOURCES`
so they cannot drift from each other."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from django.conf import settings

from creneau.audit.detection import limits_for, window_seconds
from creneau.core import ratelimit

from .capabilities import COMMON_SEARCH, RESOURCES
from .mappers.common import validated
from .scopes import GRANTABLE

FHIR_JSON = "application/fhir+json"


def capability_statement(base: str) -> dict[str, Any]:
    resources = []
    for rtype, spec in RESOURCES.items():
        entry: dict[str, Any] = {
            "type": rtype,
            "interaction": [{"code": code} for code in spec["interactions"]],
            "searchParam": [
                {"name": name, "type": kind, "documentation": doc} for name, (kind, doc) in spec["search"].items()
            ],
        }
        includes = [*spec.get("include", []), *spec.get("include_iterate", [])]
        if includes:
            entry["searchInclude"] = includes
        if spec.get("revinclude"):
            entry["searchRevInclude"] = spec["revinclude"]
        if spec.get("conditional_update"):
            entry["conditionalUpdate"] = True
        if spec.get("operations"):
            entry["operation"] = [{"name": name, "definition": url} for name, url in spec["operations"].items()]
        resources.append(entry)
    return validated(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-11-24",
            "publisher": "creneau",
            "kind": "instance",
            "software": {"name": "creneau"},
            "implementation": {"description": "creneau FHIR R4 scheduling API", "url": base},
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "cors": False,
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                        "code": "SMART-on-FHIR",
                                    }
                                ]
                            }
                        ],
                        "extension": [
                            {
                                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                                "extension": [{"url": "token", "valueUri": f"{base}auth/token"}],
                            }
                        ],
                        "description": "OAuth2 client credentials with SMART v2 system scopes; directory and "
                        "free-slot reads are also open without a token, rate limited. " + quota_text(),
                    },
                    "extension": [quota_extension()],
                    "resource": resources,
                }
            ],
        }
    )


QUOTA_EXTENSION = "https://creneau.fr/fhir/StructureDefinition/client-quota"


def quotas() -> dict[str, int]:
    """The per-client quotas the server applies (settings), as published."""
    requests = ratelimit.get("fhir-client")
    anon_limit, anon_window = settings.CRENEAU_FHIR_ANON_RATE
    limits = limits_for("api_client")
    return {
        "requests": requests.limit,
        "requests-window-seconds": requests.window,
        "anonymous-requests": anon_limit,
        "anonymous-window-seconds": anon_window,
        "distinct-patients": limits.quota_patients or limits.suspend_patients,
        "not-found": limits.quota_not_found or limits.suspend_not_found,
        "window-seconds": window_seconds(),
    }


def quota_text() -> str:
    q = quotas()
    return (
        f"Per-client quotas: {q['requests']} requests per {q['requests-window-seconds']} s (RateLimit-* headers "
        f"on every answer); {q['distinct-patients']} distinct patients and {q['not-found']} not-found answers "
        f"per {q['window-seconds'] // 60} minutes (sliding). Past a quota the answer is 429 with Retry-After "
        f"(reason quota-exceeded or rate-limited in issue.details); a client that keeps sending requests "
        f"while refused is suspended. Without a token: {q['anonymous-requests']} requests per "
        f"{q['anonymous-window-seconds']} s per address."
    )


def quota_extension() -> dict[str, Any]:
    return {
        "url": QUOTA_EXTENSION,
        "extension": [{"url": name, "valueInteger": value} for name, value in quotas().items()],
    }


def _query_parameters(rtype: str) -> dict[str, str]:
    """Search parameters of a type besides the common ones: its own, chains, include/sort controls."""
    spec = RESOURCES[rtype]
    out = {name: doc for name, (_kind, doc) in spec["search"].items()}
    out.update(spec.get("chains", {}))
    controls = {
        "_include": spec.get("include", []),
        "_include:iterate": spec.get("include_iterate", []),
        "_revinclude": spec.get("revinclude", []),
        "_sort": spec.get("sort", []),
    }
    for name, values in controls.items():
        if values:
            out[name] = "One of: " + ", ".join(values)
    return out


# The R4 JSON schemas of what is served, generated from HL7's fhir.schema.json by
# scripts/build_fhir_schemas.py (never edited by hand).
R4_SCHEMAS = Path(__file__).resolve().parent / "data" / "r4_schemas.json"


@functools.cache
def r4_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = json.loads(R4_SCHEMAS.read_text())["schemas"]
    return schemas


def _resource_schema(rtype: str) -> dict[str, Any]:
    """A served resource as R4 defines it, with the id a server-held resource always has."""
    return {"allOf": [{"$ref": f"#/components/schemas/{rtype}"}, {"required": ["resourceType", "id"]}]}


_OUTCOME = {"$ref": "#/components/schemas/OperationOutcome"}
_ERRORS = {
    "400": "Invalid request",
    "401": "Missing or invalid access token",
    "403": "The token's scopes do not allow this",
    "404": "Not found, or not visible to this client",
    "405": "Method not allowed",
    "406": "Not acceptable",
    "409": "Conflict (the slot was taken meanwhile)",
    "412": "Precondition failed (If-Match names an old version; If-None-Exist matches several)",
    "413": "Request too large",
    "415": "Unsupported media type",
    "422": "Business rule violated",
    "429": "Too many requests",
}


def _responses(ok: dict[str, Any]) -> dict[str, Any]:
    out = dict(ok)
    for code, text in _ERRORS.items():
        out[code] = {"description": text, "content": {FHIR_JSON: {"schema": _OUTCOME}}}
    return out


def _ok(code: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {code: {"description": text, "content": {FHIR_JSON: {"schema": schema}}}}


# RFC 6902.
_JSON_PATCH = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {"type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]},
            "path": {"type": "string"},
            "from": {"type": "string"},
            "value": {},
        },
    },
}

_SECURITY: list[dict[str, list[str]]] = [{"smart": []}]
_PUBLIC_SECURITY: list[dict[str, list[str]]] = [{"smart": []}, {}]


def _body_schema(rtype: str) -> dict[str, Any]:
    if rtype == "Appointment":
        return {
            "type": "object",
            "required": ["resourceType", "status", "slot", "participant"],
            "properties": {
                "resourceType": {"type": "string", "enum": ["Appointment"]},
                "status": {"type": "string", "enum": ["booked", "cancelled"]},
                "slot": {"type": "array", "items": {"$ref": "#/components/schemas/LiteralReference"}},
                "participant": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["actor", "status"],
                        "properties": {
                            "actor": {"$ref": "#/components/schemas/LiteralReference"},
                            "status": {"type": "string", "enum": ["accepted"]},
                        },
                    },
                },
            },
        }
    if rtype == "Subscription":
        return {
            "type": "object",
            "required": ["resourceType", "status", "reason", "criteria", "channel"],
            "properties": {
                "resourceType": {"type": "string", "enum": ["Subscription"]},
                "status": {"type": "string", "enum": ["requested", "active", "off"]},
                "reason": {"type": "string"},
                "criteria": {"type": "string", "example": "Appointment?actor=Practitioner/<id>"},
                "end": {"type": "string", "format": "date-time"},
                "channel": {
                    "type": "object",
                    "required": ["type", "endpoint"],
                    "properties": {
                        "type": {"type": "string", "enum": ["rest-hook"]},
                        "endpoint": {"type": "string", "format": "uri"},
                        "payload": {"type": "string", "enum": ["application/fhir+json"]},
                    },
                },
            },
        }
    return {
        "type": "object",
        "required": ["resourceType", "name", "birthDate", "managingOrganization"],
        "properties": {
            "resourceType": {"type": "string", "enum": ["Patient"]},
            "name": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "family": {"type": "string"},
                        "given": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
            "gender": {"type": "string", "enum": ["male", "female", "other", "unknown"]},
            "birthDate": {"type": "string", "format": "date"},
            "managingOrganization": {"$ref": "#/components/schemas/LiteralReference"},
        },
    }


def document(base: str) -> dict[str, Any]:
    """OpenAPI 3.1 description of the REST API; resources, Bundles and OperationOutcomes with their R4
    JSON schemas (descriptions left out: the FHIR specification is the reference for elements)."""
    paths: dict[str, Any] = {
        "/metadata": {
            "get": {
                "operationId": "capabilities",
                "summary": "CapabilityStatement",
                "security": _PUBLIC_SECURITY,
                "responses": _responses(
                    _ok(
                        "200",
                        {"$ref": "#/components/schemas/CapabilityStatement"},
                        "The server's capabilities",
                    )
                ),
            }
        }
    }
    schemas: dict[str, Any] = {
        **r4_schemas(),
        # What a request body's reference must be here: a literal one.
        "LiteralReference": {
            "type": "object",
            "required": ["reference"],
            "properties": {"reference": {"type": "string"}},
        },
    }
    for rtype, spec in RESOURCES.items():
        schemas[f"{rtype}Bundle"] = {
            "allOf": [{"$ref": "#/components/schemas/Bundle"}],
            "type": "object",
            "required": ["resourceType", "type", "total", "link"],
            "properties": {
                "resourceType": {"type": "string", "enum": ["Bundle"]},
                "type": {"type": "string", "enum": ["searchset"]},
                "total": {"type": "integer", "minimum": 0},
                "link": {"type": "array", "items": {"type": "object", "required": ["relation", "url"]}},
                "entry": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["resource"],  # the search outcome entry has no fullUrl
                        # Matches are of this type; _include entries and the search outcome are others.
                        "properties": {
                            "resource": {
                                "type": "object",
                                "required": ["resourceType"],
                                "properties": {"resourceType": {"type": "string"}},
                            }
                        },
                    },
                },
            },
        }
        security = _PUBLIC_SECURITY if spec["public"] else _SECURITY
        search_params = [
            {"name": name, "in": "query", "required": False, "description": doc, "schema": {"type": "string"}}
            for name, doc in _query_parameters(rtype).items()
        ] + [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": doc,
                "schema": {"type": "integer", "minimum": 0} if name in ("_count", "_offset") else {"type": "string"},
            }
            for name, doc in COMMON_SEARCH.items()
        ]
        type_path: dict[str, Any] = {
            "get": {
                "operationId": f"search{rtype}",
                "summary": f"Search {rtype}",
                "security": security,
                "parameters": search_params,
                "responses": _responses(
                    _ok("200", {"$ref": f"#/components/schemas/{rtype}Bundle"}, "A searchset Bundle")
                ),
            }
        }
        resource_ref = _resource_schema(rtype)
        if "create" in spec["interactions"]:
            type_path["post"] = {
                "operationId": f"create{rtype}",
                "summary": f"Create {rtype}" if rtype != "Appointment" else "Book a free Slot",
                "security": _SECURITY,
                "parameters": [
                    {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}}
                ]
                if rtype == "Appointment"
                else [],
                "requestBody": {"required": True, "content": {FHIR_JSON: {"schema": _body_schema(rtype)}}},
                "responses": _responses(
                    _ok("201", resource_ref, "Created")
                    | (
                        _ok("200", resource_ref, "Not created: If-None-Exist matched this one")
                        if rtype == "Patient"
                        else {}
                    )
                ),
            }
        if spec.get("conditional_update"):
            type_path["put"] = {
                "operationId": f"conditionalUpdate{rtype}",
                "summary": f"Conditional update of {rtype} by identifier (no match creates, one updates)",
                "security": _SECURITY,
                "parameters": [{"name": "identifier", "in": "query", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {FHIR_JSON: {"schema": _body_schema(rtype)}}},
                "responses": _responses(
                    _ok("200", resource_ref, "Updated") | _ok("201", resource_ref, "Created (no match)")
                ),
            }
        paths[f"/{rtype}"] = type_path
        paths[f"/{rtype}/_search"] = {
            "post": {
                "operationId": f"searchPost{rtype}",
                "summary": f"Search {rtype} with a form body (the same parameters as GET)",
                "security": security,
                "requestBody": {
                    "required": True,
                    "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}},
                },
                "responses": _responses(
                    _ok("200", {"$ref": f"#/components/schemas/{rtype}Bundle"}, "A searchset Bundle")
                ),
            }
        }
        id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
        instance_path: dict[str, Any] = {
            "get": {
                "operationId": f"read{rtype}",
                "summary": f"Read {rtype}",
                "security": security,
                "parameters": [id_param],
                "responses": _responses(_ok("200", resource_ref, rtype)),
            }
        }
        if "update" in spec["interactions"]:
            instance_path["put"] = {
                "operationId": f"update{rtype}",
                "summary": "Cancel (status=cancelled) or move (new start and end) an appointment"
                if rtype == "Appointment"
                else f"Change the status of a {rtype}",
                "security": _SECURITY,
                "parameters": [id_param],
                "requestBody": {"required": True, "content": {FHIR_JSON: {"schema": _body_schema(rtype)}}},
                "responses": _responses(_ok("200", resource_ref, "Updated")),
            }
        if "delete" in spec["interactions"]:
            instance_path["delete"] = {
                "operationId": f"delete{rtype}",
                "summary": f"Delete {rtype}",
                "security": _SECURITY,
                "parameters": [id_param],
                "responses": _responses(_ok("200", _OUTCOME, "Deleted")),
            }
        if "patch" in spec["interactions"]:
            instance_path["patch"] = {
                "operationId": f"patch{rtype}",
                "summary": "JSON Patch: replace /status (cancel, no-show, visit) or /start (move)",
                "security": _SECURITY,
                "parameters": [id_param],
                "requestBody": {"required": True, "content": {"application/json-patch+json": {"schema": _JSON_PATCH}}},
                "responses": _responses(_ok("200", resource_ref, "Patched")),
            }
        paths[f"/{rtype}/{{id}}"] = instance_path
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "creneau FHIR R4 scheduling API",
            "version": "1.0.0",
            "description": "FHIR R4 (application/fhir+json). OAuth2 client credentials with SMART v2 system "
            "scopes; every request is limited to the organizations that granted the client.",
        },
        "servers": [{"url": base.rstrip("/")}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "smart": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": f"{base}auth/token",
                            "scopes": {s: s for s in GRANTABLE},
                        }
                    },
                }
            },
        },
    }
