"""Appointment querysets record, once evaluated for an actor, which appointments (and patients) they returned."""

from __future__ import annotations

from typing import Any

from creneau.audit.querysets import AuditedQuerySet
from creneau.audit.services import Touched


class AppointmentQuerySet(AuditedQuerySet):
    def touched(self, obj: Any) -> Touched:
        return Touched(patient_id=obj.patient_id, appointment_id=obj.pk, organization_id=obj.organization_id)
