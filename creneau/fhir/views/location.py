"""Location (a site): read and search."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from .. import params
from .. import selectors as scoped
from ..http import fhir_response
from ..mappers import location as location_map
from .common import caller_orgs, paged, valid_uuids


def location_read(request: HttpRequest, rid: str) -> HttpResponse:
    _c, orgs = caller_orgs(request, "Location", "r")
    site = scoped.access_site(orgs, rid)
    return fhir_response(location_map.to_fhir(site))


def location_search(request: HttpRequest) -> HttpResponse:
    _c, orgs = caller_orgs(request, "Location", "s")
    qs = scoped.sites(orgs)
    if ids_ := params.tokens(request.GET, "_id"):
        qs = qs.filter(pk__in=valid_uuids([c for _s, c in ids_]))
    if refs := params.reference_ids(request.GET, "organization", "Organization"):
        qs = qs.filter(organization_id__in=valid_uuids(refs))
    for city in request.GET.getlist("address-city"):
        qs = qs.filter(city__istartswith=city)
    for postcode in request.GET.getlist("address-postalcode"):
        qs = qs.filter(postcode__startswith=postcode)
    return paged(request, "Location", qs.order_by("name", "pk"), location_map.to_fhir)
