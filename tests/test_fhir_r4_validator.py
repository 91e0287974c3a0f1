"""The independent R4 check the FHIR tests run on every answer (tests/fhir_validator): installed where
the suite runs, and stricter than our R4B models where R4 is."""

from __future__ import annotations

import os

import pytest

from creneau.fhir.mappers.common import model_class

from . import fhir_validator


def test_the_r4_schema_is_installed_for_ci() -> None:
    if os.environ.get("CI") != "true" and not fhir_validator.available():
        pytest.skip(f"not installed: {fhir_validator.INSTALL_HINT}")
    assert fhir_validator.available()
    assert {"Slot", "Appointment", "OperationOutcome", "Bundle"} <= set(fhir_validator.resource_types())


def test_it_refuses_what_r4b_models_accept_but_r4_does_not() -> None:
    if not fhir_validator.available():
        pytest.skip(fhir_validator.INSTALL_HINT)
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "suspended"}]}
    model_class("OperationOutcome").model_validate(outcome)  # R4B's model takes any code
    assert fhir_validator.errors(outcome) == [
        '/issue/0/code: "suspended" is not one of "invalid", "structure" or 29 other candidates'
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {"resourceType": "Appointment", "status": "booked"}}],
    }
    assert fhir_validator.errors(bundle) == ['/entry/0/resource: "participant" is a required property']
    # Medplum's own types, appended to HL7's schema in the npm package, are not R4.
    assert fhir_validator.errors({"resourceType": "Project"}) == ["/: 'Project' is not an R4 resource type"]
