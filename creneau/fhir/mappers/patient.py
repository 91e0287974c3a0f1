"""Patient ↔ patients.Patient, restricted: name, sex and birth date (what scheduling needs) and the
phone and email the practice uses to reach the patient. Never the postal address. Incoming: the
identity of a patient a practice's software creates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from django.utils.translation import gettext as _

from creneau.fhir.http import FhirError
from creneau.patients.models import Patient, Sex

from .common import meta, parse_incoming, reference_id, validated

_GENDER = {Sex.FEMALE: "female", Sex.MALE: "male", Sex.OTHER: "other", Sex.UNKNOWN: "unknown"}
_SEX = {v: k for k, v in _GENDER.items()}


def to_fhir(patient: Patient) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "meta": meta(patient.updated_at),
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "gender": _GENDER.get(Sex(patient.sex), "unknown"),
        "birthDate": patient.birth_date.isoformat(),
    }
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone, "use": "mobile"})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if telecom:
        resource["telecom"] = telecom
    return validated(resource)


@dataclasses.dataclass(frozen=True)
class NewPatient:
    organization_id: uuid.UUID
    identity: dict[str, Any]


def create_from_fhir(data: dict[str, Any]) -> NewPatient:
    """A patient created by a practice's software, for the organization in managingOrganization."""
    if "id" in data:
        raise FhirError(400, _("A new Patient must not carry an id."))
    model = parse_incoming("Patient", data)
    if model.managingOrganization is None:
        raise FhirError(422, _("Patient.managingOrganization must name the organization creating the patient."))
    org_ref = reference_id(model.managingOrganization, "Organization", "Patient.managingOrganization")
    try:
        org_id = uuid.UUID(org_ref)
    except ValueError:
        raise FhirError(
            422, _("Patient.managingOrganization must name the organization creating the patient.")
        ) from None
    names = model.name or []
    if not names or not names[0].family or not names[0].given:
        raise FhirError(422, _("Patient.name needs a family name and a given name."))
    if model.birthDate is None:
        raise FhirError(422, _("Patient.birthDate is required."))
    birth = model.birthDate
    if not isinstance(birth, dt.date):
        raise FhirError(422, _("Patient.birthDate must be a full date."))
    identity: dict[str, Any] = {
        "family_name": names[0].family,
        "given_name": names[0].given[0],
        "birth_date": birth,
        "sex": _SEX.get(str(model.gender or "unknown"), Sex.UNKNOWN),
    }
    for contact in model.telecom or []:
        if contact.system == "phone" and contact.value and "phone" not in identity:
            identity["phone"] = contact.value
        if contact.system == "email" and contact.value and "email" not in identity:
            identity["email"] = contact.value
    return NewPatient(organization_id=org_id, identity=identity)
