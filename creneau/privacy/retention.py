"""Retention: personal data is kept only as long as needed (ASVS 14.2.7, GDPR Art. 5(1)(e))."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Exists, Max, OuterRef

from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record
from creneau.booking.models import Appointment, Status
from creneau.core import clock
from creneau.core.actors import Actor
from creneau.patients.models import Patient

from .rights import ANONYMIZED, anonymize


def retention_run(*, dry_run: bool = False) -> dict[str, int]:
    """Anonymize patients without an account whose last appointment ended more than
    CRENEAU_RETENTION["inactive_patient_days"] ago, and delete holds expired for over an hour."""
    conf = settings.CRENEAU_RETENTION
    now = clock.now()
    cutoff = now - dt.timedelta(days=int(conf["inactive_patient_days"]))
    stale = (
        Patient.objects.filter(account__isnull=True)
        .annotate(last=Max("appointments__end_at"))
        .filter(last__lt=cutoff)
        .exclude(Exists(Appointment.objects.filter(patient=OuterRef("pk"), start_at__gte=cutoff)))
    )
    patients = [p for p in stale if p.family_name != ANONYMIZED]
    holds = Appointment.objects.filter(status=Status.HELD, hold_expires_at__lt=now - dt.timedelta(hours=1))
    result = {"patients_anonymized": len(patients), "expired_holds_deleted": holds.count()}
    if dry_run:
        return result
    for p in patients:
        anonymize(p)
    if patients:
        audit_record(
            actor=Actor.system(),
            action=Action.DELETE,
            object_type="patient",
            via="retention",
            touched=[Touched(patient_id=p.pk) for p in patients],
        )
    holds.delete()
    return result
