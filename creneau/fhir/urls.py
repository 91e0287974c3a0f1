"""FHIR R4 API under /fhir/R4/ (outside the language prefix: machines do not choose a language)."""

from django.urls import URLPattern, path, re_path

from . import views
from .capabilities import RESOURCES
from .http import endpoint
from .token import TokenView

app_name = "fhir"

urlpatterns: list[URLPattern] = [
    path("metadata", endpoint({"GET": views.metadata}), name="metadata"),
    # Documents: read-only (another method is a 405 OperationOutcome, as everywhere under /fhir/R4/).
    path("openapi.json", endpoint({"GET": views.openapi_document}), name="openapi"),
    path(".well-known/smart-configuration", endpoint({"GET": views.smart_configuration}), name="smart-configuration"),
    path("auth/token", TokenView.as_view(), name="token"),
    # IHE ITI Scheduling operations (before the instance pattern, which would take `$find` for an id).
    path(
        "Appointment/$find",
        endpoint({"GET": views.appointment_find, "POST": views.appointment_find}),
        name="Appointment-find",
    ),
    path("Appointment/$hold", endpoint({"POST": views.appointment_hold}), name="Appointment-hold"),
    path("Appointment/$book", endpoint({"POST": views.appointment_book}), name="Appointment-book"),
]
for _rtype in RESOURCES:
    urlpatterns += [
        path(f"{_rtype}", views.type_view(_rtype), name=f"{_rtype}-type"),
        path(f"{_rtype}/_search", views.search_view(_rtype), name=f"{_rtype}-search"),
        re_path(rf"^{_rtype}/(?P<rid>[^/]+)$", views.instance_view(_rtype), name=f"{_rtype}-instance"),
    ]
# Anything else under /fhir/R4/ is an unknown resource type: an OperationOutcome, not an HTML page.
urlpatterns.append(
    re_path(
        r"^.*$",
        endpoint(
            {
                "GET": views.unknown,
                "POST": views.unknown,
                "PUT": views.unknown,
                "DELETE": views.unknown,
                "PATCH": views.unknown,
            }
        ),
        name="unknown",
    )
)
