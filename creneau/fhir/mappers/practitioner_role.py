"""PractitionerRole ↔ a practitioner working at one site (directory.PractitionerSite): links the
practitioner, the organization, the location and the specialty. Id: practitioner hex + site hex."""

from __future__ import annotations

from typing import Any

from creneau.directory.models import Practitioner, Site
from creneau.fhir.ids import pair_id

from .common import ref, specialty_concept, validated


def to_fhir(p: Practitioner, site: Site) -> dict[str, Any]:
    return validated(
        {
            "resourceType": "PractitionerRole",
            "id": pair_id(p.pk, site.pk),
            "active": p.is_active,
            "practitioner": ref("Practitioner", p.pk, p.display_name),
            "organization": ref("Organization", site.organization_id),
            "location": [ref("Location", site.pk, site.name)],
            "specialty": [specialty_concept(p.specialty_id, p.specialty.label)],
        }
    )
