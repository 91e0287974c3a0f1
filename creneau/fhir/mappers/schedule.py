"""Schedule ↔ a practitioner's agenda at one site (the bookable motifs there). Same id shape as
PractitionerRole: practitioner hex + site hex."""

from __future__ import annotations

import datetime as dt
from typing import Any

from creneau.directory.models import Practitioner, Site
from creneau.fhir.ids import pair_id
from creneau.scheduling.models import Motif

from .common import instant, motif_concept, ref, specialty_concept, validated


def to_fhir(
    p: Practitioner, site: Site, motifs: list[Motif], *, horizon: tuple[dt.datetime, dt.datetime]
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Schedule",
        "id": pair_id(p.pk, site.pk),
        "active": p.is_active,
        "specialty": [specialty_concept(p.specialty_id, p.specialty.label)],
        "actor": [
            ref("Practitioner", p.pk, p.display_name),
            ref("PractitionerRole", pair_id(p.pk, site.pk)),
            ref("Location", site.pk, site.name),
        ],
        "planningHorizon": {"start": instant(horizon[0]), "end": instant(horizon[1])},
    }
    if motifs:
        resource["serviceType"] = [motif_concept(m.pk, m.name) for m in motifs]
    return validated(resource)
