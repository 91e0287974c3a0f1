"""Organization: read and search (public directory, or the granting organizations)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from .. import params
from .. import selectors as scoped
from ..http import fhir_response
from ..mappers import organization as organization_map
from .common import caller_orgs, paged, valid_uuids


def organization_read(request: HttpRequest, rid: str) -> HttpResponse:
    _c, orgs = caller_orgs(request, "Organization", "r")
    org = scoped.access_organization(orgs, rid)
    return fhir_response(organization_map.to_fhir(org))


def organization_search(request: HttpRequest) -> HttpResponse:
    _c, orgs = caller_orgs(request, "Organization", "s")
    qs = scoped.organizations(orgs)
    if ids_ := params.tokens(request.GET, "_id"):
        qs = qs.filter(pk__in=valid_uuids([c for _s, c in ids_]))
    for name in request.GET.getlist("name"):
        qs = qs.filter(name__icontains=name)
    return paged(request, "Organization", qs.order_by("name", "pk"), organization_map.to_fhir)
