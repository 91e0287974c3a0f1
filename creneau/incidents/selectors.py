"""What patients may know about incidents that touched them."""

from __future__ import annotations

from creneau.core.actors import Actor
from creneau.patients.selectors import patients_visible_to

from .models import IncidentExposure


def incidents_affecting_account(actor: Actor) -> list[IncidentExposure]:
    """Exposures of the account holder and their relatives, newest first."""
    ids = list(patients_visible_to(actor).values_list("pk", flat=True))
    return list(
        IncidentExposure.objects.filter(patient_id__in=ids).select_related("incident").order_by("-incident__opened_at")
    )
