"""Conformance: the CapabilityStatement, the OpenAPI document and the SMART configuration."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from .. import openapi, params
from ..http import authenticate, fhir_response
from ..oauth import ALGORITHMS
from ..scopes import GRANTABLE


def metadata(request: HttpRequest) -> HttpResponse:
    authenticate(request, anonymous_ok=True)
    return fhir_response(openapi.capability_statement(params.base_url(request)))


def openapi_document(request: HttpRequest) -> HttpResponse:
    return JsonResponse(openapi.document(params.base_url(request)))


def smart_configuration(request: HttpRequest) -> HttpResponse:
    base = params.base_url(request)
    return JsonResponse(
        {
            "token_endpoint": f"{base}auth/token",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ALGORITHMS,
            "scopes_supported": [s for s in capabilities_scopes()],
            "capabilities": ["client-confidential-symmetric", "client-confidential-asymmetric", "permission-v2"],
        }
    )


def capabilities_scopes() -> list[str]:
    return list(GRANTABLE)
