"""Organization ↔ directory.Organization (read-only through the API)."""

from __future__ import annotations

from typing import Any

from creneau.directory.models import Organization

from .common import meta, validated

_KIND_CODES = {"practice": "prov", "health_centre": "prov", "clinic": "prov", "hospital_department": "dept"}


def to_fhir(org: Organization) -> dict[str, Any]:
    return validated(
        {
            "resourceType": "Organization",
            "id": str(org.pk),
            "meta": meta(org.updated_at),
            "active": org.is_active,
            "name": org.name,
            "type": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                            "code": _KIND_CODES.get(org.kind, "prov"),
                        }
                    ],
                    "text": org.get_kind_display(),
                }
            ],
        }
    )
