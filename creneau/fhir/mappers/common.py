"""Shared pieces of the mappers: systems, references, validation at the boundary."""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from pydantic import ValidationError

from creneau.fhir.http import FhirError

RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
SPECIALTY_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
MOTIF_SYSTEM = "https://creneau.fr/fhir/CodeSystem/motif"
DURATION_EXTENSION = "https://creneau.fr/fhir/StructureDefinition/motif-duration"

_MODULES = {
    "Organization": "organization",
    "Location": "location",
    "Practitioner": "practitioner",
    "PractitionerRole": "practitionerrole",
    "HealthcareService": "healthcareservice",
    "Schedule": "schedule",
    "Slot": "slot",
    "Appointment": "appointment",
    "Patient": "patient",
    "Subscription": "subscription",
    "Bundle": "bundle",
    "OperationOutcome": "operationoutcome",
    "CapabilityStatement": "capabilitystatement",
}


def model_class(resource_type: str) -> Any:
    module = importlib.import_module(f"fhir.resources.R4B.{_MODULES[resource_type]}")
    return getattr(module, resource_type)


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """Check an outgoing resource against the R4 (R4B) model; a failure is our bug, not the client's.

    On in development and tests (where an independent R4 validator checks every answer too), off in
    production by default (CRENEAU_FHIR_VALIDATE_RESPONSES): it was a third of a computed slot search."""
    if settings.CRENEAU_FHIR_VALIDATE_RESPONSES:
        model_class(resource["resourceType"]).model_validate(resource)
    return resource


def parse_incoming(resource_type: str, data: dict[str, Any]) -> Any:
    """Validate a client's resource; errors name the element and the rule, never the value sent."""
    try:
        return model_class(resource_type).model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or resource_type}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False, include_context=False)[:10]
        )
        raise FhirError(
            400, _("Invalid %(type)s: %(problems)s") % {"type": resource_type, "problems": problems}
        ) from None


def instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def ref(resource_type: str, rid: object, display: str | None = None) -> dict[str, str]:
    out = {"reference": f"{resource_type}/{rid}"}
    if display:
        out["display"] = display
    return out


def version_id(updated_at: dt.datetime) -> str:
    """A row's version: its last change in microseconds (every write moves `updated_at`)."""
    return str(int(updated_at.timestamp() * 1_000_000))


def meta(updated_at: dt.datetime | None) -> dict[str, str]:
    return {"versionId": version_id(updated_at), "lastUpdated": instant(updated_at)} if updated_at else {}


def specialty_concept(code: str, label: str) -> dict[str, Any]:
    return {"coding": [{"system": SPECIALTY_SYSTEM, "code": code, "display": label}], "text": label}


def motif_concept(motif_id: object, name: str) -> dict[str, Any]:
    return {"coding": [{"system": MOTIF_SYSTEM, "code": str(motif_id), "display": name}], "text": name}


def reference_id(value: Any, resource_type: str, element: str) -> str:
    """The id in a `Type/id` reference of the expected type, or 400."""
    text = getattr(value, "reference", None) if not isinstance(value, dict) else value.get("reference")
    if not isinstance(text, str) or "/" not in text:
        raise FhirError(400, _("%(element)s must reference a %(type)s.") % {"element": element, "type": resource_type})
    segments = text.rstrip("/").split("/")
    if segments[-2] != resource_type:
        raise FhirError(400, _("%(element)s must reference a %(type)s.") % {"element": element, "type": resource_type})
    return segments[-1]
