"""Who may book a visit reason and how, shown before booking: on HealthcareService (`eligibility`,
`appointmentRequired`, extensions) and on each Slot (the same extensions), so that a partner never
offers a slot the booking would refuse for these reasons."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from creneau.scheduling.models import Audience, Motif, VisitChannel

ELIGIBILITY_SYSTEM = "https://creneau.fr/fhir/CodeSystem/booking-eligibility"
ELIGIBILITY_EXTENSION = "https://creneau.fr/fhir/StructureDefinition/booking-eligibility"
MIN_NOTICE_EXTENSION = "https://creneau.fr/fhir/StructureDefinition/booking-minimum-notice"
HORIZON_EXTENSION = "https://creneau.fr/fhir/StructureDefinition/booking-horizon"
CHANNEL_EXTENSION = "https://creneau.fr/fhir/StructureDefinition/booking-channel"
ONLINE_EXTENSION = "https://creneau.fr/fhir/StructureDefinition/bookable-online"
AGE_EXTENSION = "https://creneau.fr/fhir/StructureDefinition/booking-patient-age"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
UCUM = "http://unitsofmeasure.org"

# Audience -> code of the eligibility CodeSystem.
_CODES = {Audience.ALL: "all-patients", Audience.NEW: "new-patients", Audience.RETURNING: "returning-patients"}


def eligibility_code(motif: Motif) -> str:
    """`all-patients`, `new-patients` or `returning-patients`; a practitioner not taking new patients
    makes a visit reason for everyone one for returning patients only."""
    code = _CODES[Audience(motif.audience)]
    if code == "all-patients" and not motif.practitioner.accepts_new_patients:
        return "returning-patients"
    return code


def _concept(motif: Motif) -> dict[str, Any]:
    code = eligibility_code(motif)
    label = {
        "all-patients": _("New and returning patients"),
        "new-patients": _("New patients only"),
        "returning-patients": _("Patients already followed by this practitioner only"),
    }[code]
    return {"coding": [{"system": ELIGIBILITY_SYSTEM, "code": code, "display": label}], "text": label}


def _age_range(motif: Motif) -> dict[str, Any] | None:
    if motif.min_age_years is None and motif.max_age_years is None:
        return None
    out: dict[str, Any] = {}
    if motif.min_age_years is not None:
        out["low"] = {"value": motif.min_age_years, "unit": "a", "system": UCUM, "code": "a"}
    if motif.max_age_years is not None:
        out["high"] = {"value": motif.max_age_years, "unit": "a", "system": UCUM, "code": "a"}
    return out


def channel_coding(motif: Motif) -> dict[str, str]:
    """v3-ActCode: AMB in person, VR video (as the SAS codes a Slot's serviceType)."""
    if motif.channel == VisitChannel.VIDEO:
        return {"system": ACT_CODE, "code": "VR", "display": "virtual"}
    return {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"}


def extensions(motif: Motif) -> list[dict[str, Any]]:
    """The booking rules of the visit reason: eligibility, minimum notice, horizon, channel, online."""
    out: list[dict[str, Any]] = [
        {"url": ELIGIBILITY_EXTENSION, "valueCodeableConcept": _concept(motif)},
        {
            "url": MIN_NOTICE_EXTENSION,
            "valueDuration": {"value": motif.min_notice_minutes, "unit": "min", "system": UCUM, "code": "min"},
        },
        {
            "url": HORIZON_EXTENSION,
            "valueDuration": {"value": motif.max_horizon_days, "unit": "d", "system": UCUM, "code": "d"},
        },
        {"url": CHANNEL_EXTENSION, "valueCoding": channel_coding(motif)},
        {"url": ONLINE_EXTENSION, "valueBoolean": bool(motif.bookable_online)},
    ]
    if (ages := _age_range(motif)) is not None:
        out.append({"url": AGE_EXTENSION, "valueRange": ages})
    return out


def eligibility(motif: Motif) -> list[dict[str, Any]]:
    """HealthcareService.eligibility: who may book, with the age limits and the booking window in words."""
    parts = []
    low, high = motif.min_age_years, motif.max_age_years
    if low is not None and high is not None:
        parts.append(_("Aged %(min)d to %(max)d.") % {"min": low, "max": high})
    elif low is not None:
        parts.append(_("Aged %(min)d or more.") % {"min": low})
    elif high is not None:
        parts.append(_("Aged %(max)d or less.") % {"max": high})
    if motif.bookable_online:
        parts.append(
            _("Bookable online from %(notice)d minutes to %(days)d days ahead.")
            % {"notice": motif.min_notice_minutes, "days": motif.max_horizon_days}
        )
    else:
        parts.append(_("Booked by phone only."))
    return [{"code": _concept(motif), "comment": " ".join(parts)}]
