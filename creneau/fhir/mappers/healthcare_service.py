"""HealthcareService ↔ scheduling.Motif: a visit reason, its duration and where it is offered."""

from __future__ import annotations

from typing import Any

from creneau.directory.models import Site
from creneau.scheduling.models import Motif

from . import eligibility
from .common import DURATION_EXTENSION, meta, motif_concept, ref, specialty_concept, validated


def to_fhir(motif: Motif, sites: list[Site]) -> dict[str, Any]:
    p = motif.practitioner
    resource: dict[str, Any] = {
        "resourceType": "HealthcareService",
        "id": str(motif.pk),
        "meta": meta(motif.updated_at),
        "extension": [
            {"url": DURATION_EXTENSION, "valueInteger": motif.duration_minutes},
            *eligibility.extensions(motif),
        ],
        "active": motif.is_active,
        "name": motif.name,
        "type": [motif_concept(motif.pk, motif.name)],
        "specialty": [specialty_concept(p.specialty_id, p.specialty.label)],
        "location": [ref("Location", s.pk, s.name) for s in sites],
        "eligibility": eligibility.eligibility(motif),
        "appointmentRequired": True,
        "comment": p.display_name,
    }
    if sites:
        resource["providedBy"] = ref("Organization", sites[0].organization_id)
    return validated(resource)
