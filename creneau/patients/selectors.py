"""Scoped reads of patients. Every path to a Patient row for a request goes through here."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import Q, QuerySet

from creneau.core.actors import Actor, ActorKind
from creneau.core.errors import NotFound
from creneau.core.ids import parse_id

from .models import Patient


def patients_visible_to(actor: Actor) -> QuerySet[Patient]:
    """The patients this actor may see: their own and their relatives (patient accounts), those
    known to their organizations (staff, API clients), everything for the system."""
    if actor.kind == ActorKind.SYSTEM:
        return Patient.objects.all()
    if actor.kind == ActorKind.PATIENT:
        if actor.user is None:
            return Patient.objects.none()
        return Patient.objects.filter(account=actor.user)
    orgs = list(actor.organization_ids)
    if not orgs:
        return Patient.objects.none()
    return Patient.objects.filter(
        Q(created_by_organization_id__in=orgs) | Q(pk__in=_patients_with_appointments_in(orgs))
    )


def _patients_with_appointments_in(orgs: list[uuid.UUID]) -> QuerySet[Any]:
    from creneau.booking.models import Appointment

    return Appointment.objects.filter(organization_id__in=orgs, patient__isnull=False).values("patient_id")


def access_patient(actor: Actor, patient_id: uuid.UUID | str) -> Patient:
    """The patient if the actor may see it; NotFound otherwise (same answer as a missing id)."""
    pid = parse_id(patient_id)
    try:
        return patients_visible_to(actor).get(pk=pid)
    except Patient.DoesNotExist as exc:
        raise NotFound("Unknown patient.") from exc


def patients_of_account(actor: Actor) -> list[Patient]:
    """The account holder first, then relatives."""
    return sorted(patients_visible_to(actor), key=lambda p: (p.relationship != "self", p.given_name))


def patient_search_for_organization(
    actor: Actor, *, family_name: str = "", birth_date: dt.date | None = None, phone: str = "", limit: int = 20
) -> list[Patient]:
    """Staff search among the patients known to their organizations. At least one criterion."""
    qs = patients_visible_to(actor)
    if not (family_name.strip() or birth_date or phone.strip()):
        return []
    if family_name.strip():
        qs = qs.filter(family_name__iexact=family_name.strip())
    if birth_date:
        qs = qs.filter(birth_date=birth_date)
    if phone.strip():
        qs = qs.filter(phone=phone.strip())
    return list(qs.order_by("family_name", "given_name")[:limit])
