"""GDPR rights of the people on a patient account: access (export) and erasure.

Export (Art. 15/20): everything we hold about a patient, as JSON and as a FHIR R4 Bundle.
Erasure (Art. 17): the account goes; appointments the practices must keep are kept but anonymized, and
patients with no appointment are deleted."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils.translation import gettext as _

from creneau.accounts.models import Membership
from creneau.accounts.principals import acting_user
from creneau.accounts.services import account_close
from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record
from creneau.booking.models import Appointment, Status
from creneau.booking.selectors import appointments_visible_to
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind
from creneau.core.errors import PermissionDenied
from creneau.core.events import emit
from creneau.fhir.mappers import appointment as appointment_map
from creneau.fhir.mappers import patient as patient_map
from creneau.fhir.mappers.common import validated
from creneau.patients import events
from creneau.patients.models import IDENTITY_FIELDS, Patient, Sex
from creneau.patients.selectors import access_patient, patients_visible_to

ANONYMIZED = "ANONYMISÉ"
ANONYMOUS_BIRTH_DATE = dt.date(1900, 1, 1)


def _appointments_of(actor: Actor, patient: Patient) -> list[Appointment]:
    return list(appointments_visible_to(actor).filter(patient=patient).exclude(status=Status.HELD).order_by("start_at"))


def patient_data_export(*, actor: Actor, patient_id: uuid.UUID | str) -> dict[str, Any]:
    """All we hold about one patient the actor manages, as plain JSON."""
    patient = access_patient(actor, patient_id)
    appointments = _appointments_of(actor, patient)
    _audit_export(actor, patient, appointments)
    identity = {f: getattr(patient, f) for f in IDENTITY_FIELDS}
    identity["birth_date"] = patient.birth_date.isoformat()
    return {
        "exported_at": clock.now().isoformat(),
        "patient": {"id": str(patient.pk), "relationship": patient.relationship, **identity},
        "appointments": [
            {
                "id": str(a.pk),
                "start": a.start_at.isoformat(),
                "end": a.end_at.isoformat(),
                "status": a.status,
                "source": a.source,
                "practitioner": a.practitioner.display_name,
                "specialty": a.practitioner.specialty.label_fr,
                "visit_reason": a.motif.name,
                "place": f"{a.site.name}, {a.site.address}, {a.site.postcode} {a.site.city}",
                "booked_at": a.booked_at.isoformat() if a.booked_at else None,
                "cancelled_at": a.cancelled_at.isoformat() if a.cancelled_at else None,
            }
            for a in appointments
        ],
    }


def patient_data_bundle(*, actor: Actor, patient_id: uuid.UUID | str) -> dict[str, Any]:
    """The same data as a FHIR R4 collection Bundle (Patient + Appointments), validated."""
    patient = access_patient(actor, patient_id)
    appointments = _appointments_of(actor, patient)
    _audit_export(actor, patient, appointments)
    resources = [patient_map.to_fhir(patient)] + [
        appointment_map.to_fhir(a, patient_display=True) for a in appointments
    ]
    return validated(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": clock.now().isoformat(),
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
        }
    )


def _audit_export(actor: Actor, patient: Patient, appointments: list[Appointment]) -> None:
    touched = [Touched(patient_id=patient.pk)] + [Touched(patient.pk, a.pk, a.organization_id) for a in appointments]
    audit_record(actor=actor, action=Action.EXPORT, object_type="patient", touched=touched, via="patient_data_export")


def anonymize(patient: Patient) -> None:
    """Replace every identity field; the row (and the appointments pointing to it) stays."""
    patient.family_name = ANONYMIZED
    patient.given_name = ANONYMIZED
    patient.birth_date = ANONYMOUS_BIRTH_DATE
    patient.sex = Sex.UNKNOWN
    for field in ("phone", "email", "address_line", "postcode", "city"):
        setattr(patient, field, "")
    patient.account = None
    patient.save()


@transaction.atomic
def account_erase(*, actor: Actor) -> dict[str, int]:
    """Erase a patient account: slots it holds released, future appointments cancelled, patients with
    history anonymized, the others deleted, the sign-in identity scrubbed. The views ask for the password
    first. Staff and operator accounts are refused (their organization or another operator closes them).

    Cancelling is booking's work (`appointment_cancel`: audit row, message, waiting-list offer, index
    refresh), and booking sits above patients: each patient's cancellations are asked for with the
    `patient.erasing` event, handled synchronously in this transaction by `booking.erasure`. If a future
    booking is still there afterwards (no handler configured), the erasure fails and nothing changes."""
    user = acting_user(actor)
    if actor.kind != ActorKind.PATIENT or user is None:
        raise PermissionDenied(_("Only the account holder can erase their account."))
    if Membership.objects.filter(user=user).exists():
        raise PermissionDenied(_("Practice staff accounts are closed by their organization's administrator."))
    if user.is_staff or user.is_superuser:
        raise PermissionDenied(
            _("Operator accounts cannot be erased here: another operator closes them in the administration."),
            code="operator-account",
        )
    emit(events.ACCOUNT_ERASING, actor=actor)  # booking releases the slots the account holds
    if Appointment.objects.filter(actor_key=actor.key, status=Status.HELD).exists():
        raise ImproperlyConfigured("patient.account_erasing has no handler that releases the account's holds")
    counts = {"cancelled": 0, "anonymized": 0, "deleted": 0}
    for patient in list(patients_visible_to(actor)):
        future = Appointment.objects.filter(patient=patient, status=Status.BOOKED, start_at__gt=clock.now())
        booked = future.count()
        if booked:
            emit(events.PATIENT_ERASING, actor=actor, patient_id=patient.pk)
            if future.exists():
                raise ImproperlyConfigured("patient.erasing has no handler that cancels the future appointments")
            counts["cancelled"] += booked
        if Appointment.objects.filter(patient=patient).exists():
            anonymize(patient)
            counts["anonymized"] += 1
        else:
            patient.delete()
            counts["deleted"] += 1
        audit_record(
            actor=actor,
            action=Action.DELETE,
            object_type="patient",
            touched=[Touched(patient_id=patient.pk)],
            via="account_erase",
        )
    account_close(actor=actor, user=user)
    return counts
