"""Incident reads: platform operators (and the system) handle incidents; patients may know about the
ones that touched them."""

from __future__ import annotations

import uuid

from django.utils.translation import gettext as _

from creneau.audit.detection import refuse_if_suspended
from creneau.audit.models import Action
from creneau.audit.services import audit_record
from creneau.core.actors import Actor, ActorKind
from creneau.core.errors import NotFound
from creneau.core.ids import parse_id
from creneau.patients.selectors import patients_visible_to

from .models import Incident, IncidentExposure


def handles_incidents(actor: Actor) -> bool:
    """Platform operators (staff accounts of the platform) and the system (detection, commands); nobody
    in a practice."""
    if actor.kind == ActorKind.SYSTEM:
        return True
    return actor.user is not None and actor.user.is_staff


def access_incident(actor: Actor, incident_id: uuid.UUID | str, *, for_update: bool = False) -> Incident:
    """One incident, for an operator. Its scope lists the exposed patients' ids: opening it is an
    audited read (one event naming the incident; the ids are not re-listed as touched records, which
    would count the handler as reading every exposed patient). Anyone else gets a missing id's answer."""
    refuse_if_suspended(actor)
    qs = Incident.objects.all() if handles_incidents(actor) else Incident.objects.none()
    if for_update:
        qs = qs.select_for_update()
    try:
        incident = qs.get(pk=parse_id(incident_id))
    except (Incident.DoesNotExist, NotFound) as exc:
        raise NotFound(_("Unknown incident.")) from exc
    audit_record(actor=actor, action=Action.READ, object_type="incident", object_id=incident.pk, via="access_incident")
    return incident


def incidents_affecting_account(actor: Actor) -> list[IncidentExposure]:
    """Exposures of the account holder and their relatives, newest first."""
    ids = list(patients_visible_to(actor).values_list("pk", flat=True))
    return list(
        IncidentExposure.objects.filter(patient_id__in=ids).select_related("incident").order_by("-incident__opened_at")
    )
