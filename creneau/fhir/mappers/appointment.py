"""Appointment ↔ booking.Appointment. Incoming: a booking request (a Slot and a Patient) or a status
change (cancellation). Outgoing: the patient is a bare reference unless the token may read patients."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from creneau.booking.models import Appointment, Status
from creneau.directory.models import Site
from creneau.fhir.http import FhirError
from creneau.fhir.ids import pair_id, slot_id
from creneau.scheduling.models import Motif

from . import eligibility
from .common import instant, meta, motif_concept, parse_incoming, ref, reference_id, specialty_concept, validated

TO_FHIR_STATUS = {
    Status.BOOKED: "booked",
    Status.CANCELLED: "cancelled",
    Status.FULFILLED: "fulfilled",
    Status.NO_SHOW: "noshow",
    Status.HELD: "pending",
}
FROM_FHIR_STATUS = {v: k for k, v in TO_FHIR_STATUS.items() if k != Status.HELD}
HOLD_EXPIRES_EXTENSION = "https://creneau.fr/fhir/StructureDefinition/hold-expires"
ROUTINE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": "ROUTINE"}]}


def proposed_to_fhir(motif: Motif, site: Site, start: dt.datetime, *, patient_id: Any = None) -> dict[str, Any]:
    """A proposed appointment (`$find`): a free slot of a visit reason, not stored; `$hold` or `$book`
    it by sending it back. The booking rules of the visit reason ride along (mappers/eligibility.py)."""
    p = motif.practitioner
    end = start + dt.timedelta(minutes=motif.duration_minutes)
    participants: list[dict[str, Any]] = []
    if patient_id is not None:
        participants.append({"actor": ref("Patient", patient_id), "required": "required", "status": "needs-action"})
    participants += [
        {"actor": ref("Practitioner", p.pk, p.display_name), "required": "required", "status": "accepted"},
        {"actor": ref("PractitionerRole", pair_id(p.pk, site.pk)), "required": "required", "status": "accepted"},
        {"actor": ref("Location", site.pk, site.name), "required": "required", "status": "accepted"},
    ]
    return validated(
        {
            "resourceType": "Appointment",
            "extension": eligibility.extensions(motif),
            "status": "proposed",
            "serviceType": [motif_concept(motif.pk, motif.name)],
            "specialty": [specialty_concept(p.specialty_id, p.specialty.label)],
            "appointmentType": ROUTINE,
            "start": instant(start),
            "end": instant(end),
            "minutesDuration": motif.duration_minutes,
            "slot": [ref("Slot", slot_id(motif.pk, site.pk, start))],
            "participant": participants,
        }
    )


def to_fhir(a: Appointment, *, patient_display: bool) -> dict[str, Any]:
    p = a.practitioner
    participants: list[dict[str, Any]] = []
    if a.patient_id:
        display = f"{a.patient.given_name} {a.patient.family_name}" if patient_display and a.patient else None
        participants.append(
            {"actor": ref("Patient", a.patient_id, display), "required": "required", "status": "accepted"}
        )
    participants += [
        {"actor": ref("Practitioner", p.pk, p.display_name), "required": "required", "status": "accepted"},
        {"actor": ref("PractitionerRole", pair_id(p.pk, a.site_id)), "required": "required", "status": "accepted"},
        {"actor": ref("Location", a.site_id, a.site.name), "required": "required", "status": "accepted"},
    ]
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(a.pk),
        "meta": meta(a.updated_at),
        **({"identifier": identifiers} if (identifiers := identifiers_of(a)) else {}),
        "status": TO_FHIR_STATUS[Status(a.status)],
        "serviceType": [motif_concept(a.motif_id, a.motif.name)],
        "specialty": [specialty_concept(p.specialty_id, p.specialty.label)],
        "start": instant(a.start_at),
        "end": instant(a.end_at),
        "minutesDuration": int((a.end_at - a.start_at).total_seconds() // 60),
        "slot": [ref("Slot", slot_id(a.motif_id, a.site_id, a.start_at))],
        "participant": participants,
    }
    if a.booked_at:
        resource["created"] = instant(a.booked_at)
    if a.status == Status.CANCELLED and a.cancelled_by:
        resource["cancelationReason"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
                    "code": "pat" if a.cancelled_by == "patient" else "prov",
                }
            ]
        }
    return validated(resource)


def identifiers_of(a: Appointment) -> list[dict[str, str]]:
    """The identifiers partners gave the appointment (prefetched by searches: `identifiers`)."""
    if a.status == Status.HELD or a.pk is None:
        return []
    return [
        {"system": i.system, "value": i.value} for i in sorted(a.identifiers.all(), key=lambda i: (i.system, i.value))
    ]


def identifiers_from_fhir(model: Any) -> list[tuple[str, str]]:
    """(system, value) of each identifier sent; both are required (an identifier names the appointment
    within its system)."""
    out = []
    for ident in model.identifier or []:
        if not ident.system or not ident.value:
            raise FhirError(422, _("An appointment identifier needs a system and a value."))
        if len(ident.system) > 255 or len(ident.value) > 255:
            raise FhirError(422, _("An appointment identifier has at most 255 characters."))
        out.append((str(ident.system), str(ident.value)))
    if len(set(out)) != len(out) or len(out) > 5:
        raise FhirError(422, _("Give each appointment identifier once, at most 5."))
    return out


@dataclasses.dataclass(frozen=True)
class BookingRequest:
    slot_id: str
    patient_id: str
    identifiers: tuple[tuple[str, str], ...] = ()


def booking_from_fhir(data: dict[str, Any]) -> BookingRequest:
    """A new appointment: exactly one Slot, one Patient participant, status booked (or proposed/pending,
    which we book at once)."""
    if "id" in data:
        raise FhirError(400, _("A new Appointment must not carry an id."))
    model = parse_incoming("Appointment", data)
    if model.status not in ("booked", "proposed", "pending"):
        raise FhirError(422, _("A new appointment must have status booked."))
    slots = model.slot or []
    if len(slots) != 1:
        raise FhirError(422, _("Reference exactly one free Slot to book."))
    patients = [
        part.actor
        for part in (model.participant or [])
        if part.actor and (part.actor.reference or "").count("Patient/")
    ]
    if len(patients) != 1:
        raise FhirError(422, _("Reference exactly one Patient among the participants."))
    return BookingRequest(
        slot_id=reference_id(slots[0], "Slot", "Appointment.slot"),
        patient_id=reference_id(patients[0], "Patient", "Appointment.participant.actor"),
        identifiers=tuple(identifiers_from_fhir(model)),
    )


def status_from_fhir(data: dict[str, Any], appointment_id: str) -> str:
    """The status asked for by an update; other elements are not changed by an update."""
    if data.get("id") != appointment_id:
        raise FhirError(400, _("The resource id must match the URL."))
    model = parse_incoming("Appointment", data)
    status = FROM_FHIR_STATUS.get(str(model.status))
    if status is None:
        raise FhirError(422, _("Unsupported appointment status."))
    return status
