"""PractitionerRole (a practitioner at a site): read and search."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse

from creneau.core.errors import NotFound

from .. import ids, params
from .. import selectors as scoped
from ..http import fhir_response
from ..mappers import common
from ..mappers import practitioner_role as practitioner_role_map
from .common import caller_orgs, paged, token_codes, valid_uuids


def roles_query(request: HttpRequest, orgs: scoped.Orgs) -> QuerySet[Any]:
    qs = scoped.roles(orgs)
    pairs = []
    for _s, value in params.tokens(request.GET, "_id"):
        try:
            pairs.append(ids.parse_pair_id(value))
        except NotFound:
            continue
    if params.tokens(request.GET, "_id"):
        cond = Q(pk__in=[])
        for pid, sid in pairs:
            cond |= Q(practitioner_id=pid, site_id=sid)
        qs = qs.filter(cond)
    if codes := token_codes(request.GET, "specialty", common.SPECIALTY_SYSTEM):
        qs = qs.filter(practitioner__specialty_id__in=codes)
    return qs.order_by("practitioner__family_name", "practitioner_id", "site_id")


def practitioner_role_read(request: HttpRequest, rid: str) -> HttpResponse:
    _c, orgs = caller_orgs(request, "PractitionerRole", "r")
    link = scoped.access_role(orgs, *ids.parse_pair_id(rid))
    return fhir_response(practitioner_role_map.to_fhir(link.practitioner, link.site))


def practitioner_role_search(request: HttpRequest) -> HttpResponse:
    _c, orgs = caller_orgs(request, "PractitionerRole", "s")
    qs = roles_query(request, orgs)
    if refs := params.reference_ids(request.GET, "practitioner", "Practitioner"):
        qs = qs.filter(practitioner_id__in=valid_uuids(refs))
    if refs := params.reference_ids(request.GET, "organization", "Organization"):
        qs = qs.filter(site__organization_id__in=valid_uuids(refs))
    if refs := params.reference_ids(request.GET, "location", "Location"):
        qs = qs.filter(site_id__in=valid_uuids(refs))
    return paged(
        request, "PractitionerRole", qs, lambda link: practitioner_role_map.to_fhir(link.practitioner, link.site)
    )
