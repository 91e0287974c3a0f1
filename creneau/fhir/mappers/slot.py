"""Slot ↔ a bookable start of a motif at a site. The id encodes motif, site and start; the server
checks every part against the caller's scope and the live agenda before using it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from creneau.fhir.ids import pair_id, slot_id
from creneau.scheduling.models import Motif

from . import eligibility
from .common import instant, motif_concept, ref, specialty_concept, validated


def to_fhir(motif: Motif, site_id: Any, start: dt.datetime, *, free: bool = True) -> dict[str, Any]:
    p = motif.practitioner
    end = start + dt.timedelta(minutes=motif.duration_minutes)
    return validated(
        {
            "resourceType": "Slot",
            "id": slot_id(motif.pk, site_id, start),
            # Who may book it and how (the visit reason's rules): see mappers/eligibility.py.
            "extension": eligibility.extensions(motif),
            "serviceType": [motif_concept(motif.pk, motif.name)],
            "specialty": [specialty_concept(p.specialty_id, p.specialty.label)],
            # Every slot we list is bookable with an appointment (v2-0276 ROUTINE), as the SAS expects.
            "appointmentType": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": "ROUTINE"}]
            },
            "schedule": ref("Schedule", pair_id(p.pk, site_id)),
            "status": "free" if free else "busy",
            "start": instant(start),
            "end": instant(end),
        }
    )
