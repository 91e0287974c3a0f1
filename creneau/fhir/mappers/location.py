"""Location ↔ directory.Site (read-only through the API)."""

from __future__ import annotations

from typing import Any

from creneau.directory.models import Site

from .common import meta, ref, validated


def to_fhir(site: Site) -> dict[str, Any]:
    return validated(
        {
            "resourceType": "Location",
            "id": str(site.pk),
            "meta": meta(site.updated_at),
            "status": "active",
            "name": site.name,
            "mode": "instance",
            "address": {
                "use": "work",
                "line": [site.address],
                "postalCode": site.postcode,
                "city": site.city,
                "country": "FR",
            },
            "position": {"latitude": site.latitude, "longitude": site.longitude},
            "managingOrganization": ref("Organization", site.organization_id),
        }
    )
