"""Practitioner ↔ directory.Practitioner: the national identifier is "8" + RPPS in the system
urn:oid:1.2.250.1.71.4.2.1 (read-only through the API)."""

from __future__ import annotations

from typing import Any

from creneau.directory.models import Practitioner

from .common import RPPS_SYSTEM, meta, validated


def national_id(rpps: str) -> str:
    return f"8{rpps}"


def rpps_from_identifier(value: str) -> str:
    """The RPPS in a national identifier value ("8" + 11 digits); a bare RPPS is accepted too."""
    return value[1:] if len(value) == 12 and value.startswith("8") else value


def to_fhir(p: Practitioner) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": str(p.pk),
        "meta": meta(p.updated_at),
        "identifier": [
            {
                "use": "official",
                "system": RPPS_SYSTEM,
                "value": national_id(p.rpps),
                "type": {
                    "coding": [
                        {
                            "system": "http://interopsante.org/fhir/CodeSystem/fr-v2-0203",
                            "code": "IDNPS",
                        }
                    ]
                },
            }
        ],
        "active": p.is_active,
        "name": [{"use": "official", "family": p.family_name, "given": [p.given_name], "prefix": [p.title]}],
    }
    if p.languages:
        resource["communication"] = [
            {"coding": [{"system": "urn:ietf:bcp:47", "code": lang}]} for lang in p.languages if lang
        ]
    return validated(resource)
