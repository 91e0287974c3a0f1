"""Booking's answers to the questions of the apps below it (settings: CRENEAU_*_PROVIDER, see
creneau.core.providers): the lower apps never import booking's table."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from creneau.core import clock

from .models import Appointment, Status


def busy_rows(practitioner_ids: Iterable[uuid.UUID], *, start: dt.datetime, end: dt.datetime) -> QuerySet[Any]:
    """Active appointments and unexpired holds of these practitioners whose busy time overlaps
    [start, end), as a lazy queryset: the slot engine reads `practitioner_id`, `start_at` and
    `busy_until` from it (and may fold it into one query with the absences)."""
    return (
        Appointment.objects.filter(practitioner_id__in=list(practitioner_ids), start_at__lt=end, busy_until__gt=start)
        .exclude(status=Status.CANCELLED)
        .exclude(status=Status.HELD, hold_expires_at__lte=clock.now())
    )


def patients_seen_by(organization_ids: list[uuid.UUID], *, ignoring: uuid.UUID | None = None) -> QuerySet[Any]:
    """`patient_id` of the appointments with these organizations (a patient with an appointment there is
    known to them), as a subquery; `ignoring` leaves one appointment out (a booking being made)."""
    rows = Appointment.objects.filter(organization_id__in=organization_ids, patient__isnull=False)
    if ignoring is not None:
        rows = rows.exclude(pk=ignoring)
    return rows.values("patient_id")
