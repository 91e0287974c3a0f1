"""Incidents: a suspected or confirmed breach, its exact scope computed from the audit trail."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from creneau.core.models import PublicModel


class IncidentStatus(models.TextChoices):
    OPEN = "open", _("Open")
    NOTIFIED = "notified", _("Authority notified")
    CLOSED = "closed", _("Closed")


class Incident(PublicModel):
    opened_at = models.DateTimeField()
    # "detection:<rule>" or "operator:<user id>"
    opened_by = models.CharField(max_length=80)
    principal = models.CharField(max_length=80, db_index=True)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    summary = models.TextField(blank=True)
    # Frozen result of the last scope computation (ids and counts only).
    scope = models.JSONField(default=dict, blank=True)
    patients_notified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"incident {self.pk}"


class IncidentExposure(models.Model):
    """One patient touched by an incident: lets a patient see it on their account, and drives notices."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="exposures")
    patient_id = models.UUIDField(db_index=True)
    categories = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "patient_id"], name="exposure_unique")]

    def __str__(self) -> str:
        return f"exposure {self.pk}"
