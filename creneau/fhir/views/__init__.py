"""FHIR R4 endpoints, one module per resource. Thin: authenticate, scope, call a selector or service,
map, answer. This package maps each resource type's interactions to its handlers."""

from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.translation import gettext as _

from .. import capabilities, search
from ..http import FhirError, endpoint
from . import (
    appointment,
    healthcare_service,
    location,
    organization,
    patient,
    practitioner,
    practitioner_role,
    schedule,
    slot,
    subscription,
)
from .metadata import metadata, openapi_document, smart_configuration
from .operations import appointment_book, appointment_find, appointment_hold

__all__ = [
    "ROUTES",
    "appointment_book",
    "appointment_find",
    "appointment_hold",
    "instance_view",
    "metadata",
    "openapi_document",
    "search_view",
    "smart_configuration",
    "type_view",
    "unknown",
]

ROUTES: dict[str, dict[str, Any]] = {
    "Organization": {"search": organization.organization_search, "read": organization.organization_read},
    "Location": {"search": location.location_search, "read": location.location_read},
    "Practitioner": {"search": practitioner.practitioner_search, "read": practitioner.practitioner_read},
    "PractitionerRole": {
        "search": practitioner_role.practitioner_role_search,
        "read": practitioner_role.practitioner_role_read,
    },
    "HealthcareService": {
        "search": healthcare_service.healthcare_service_search,
        "read": healthcare_service.healthcare_service_read,
    },
    "Schedule": {"search": schedule.schedule_search, "read": schedule.schedule_read},
    "Slot": {"search": slot.slot_search, "read": slot.slot_read},
    "Appointment": {
        "search": appointment.appointment_search,
        "read": appointment.appointment_read,
        "create": appointment.appointment_create,
        "update": appointment.appointment_update,
        "patch": appointment.appointment_patch,
        "conditional_update": appointment.appointment_conditional_update,
    },
    "Patient": {"search": patient.patient_search, "read": patient.patient_read, "create": patient.patient_create},
    "Subscription": {
        "search": subscription.subscription_search,
        "read": subscription.subscription_read,
        "create": subscription.subscription_create,
        "update": subscription.subscription_update,
        "delete": subscription.subscription_delete,
    },
}


def searching(resource_type: str, handler: Any, *, form: bool = False) -> Any:
    """The search handler behind exact search (`search.restrict`); `form`: the parameters of
    `POST [type]/_search` come from the form body (and the URL)."""

    @functools.wraps(handler)
    def run(request: HttpRequest) -> HttpResponse:
        source: QueryDict = request.GET
        if form:
            source = QueryDict(mutable=True)
            source.update(request.GET)
            for name in request.POST:
                for value in request.POST.getlist(name):
                    source.appendlist(name, value)
        search.restrict(request, resource_type, source)
        return handler(request)

    return run


def search_view(resource_type: str) -> Any:
    """`POST [type]/_search`: a form-encoded search, the same as GET."""
    return endpoint({"POST": searching(resource_type, ROUTES[resource_type]["search"], form=True)}, form_post=True)


def type_view(resource_type: str) -> Any:
    handlers = ROUTES[resource_type]
    methods = {"GET": searching(resource_type, handlers["search"])}
    if "create" in handlers:
        methods["POST"] = handlers["create"]
    if "conditional_update" in handlers:
        methods["PUT"] = handlers["conditional_update"]
    return endpoint(methods)


def instance_view(resource_type: str) -> Any:
    handlers = ROUTES[resource_type]
    methods = {"GET": handlers["read"]}
    if "update" in handlers:
        methods["PUT"] = handlers["update"]
    if "patch" in handlers:
        methods["PATCH"] = handlers["patch"]
    if "delete" in handlers:
        methods["DELETE"] = handlers["delete"]
    return endpoint(methods)


assert set(ROUTES) == set(capabilities.RESOURCES)


def unknown(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    raise FhirError(404, _("Unknown resource type or operation."))
