"""Practitioner: read and search."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest, HttpResponse

from .. import params
from .. import selectors as scoped
from ..http import fhir_response
from ..mappers import common
from ..mappers import practitioner as practitioner_map
from .common import caller_orgs, paged, valid_uuids


def practitioner_read(request: HttpRequest, rid: str) -> HttpResponse:
    _c, orgs = caller_orgs(request, "Practitioner", "r")
    p = scoped.access_practitioner(orgs, rid)
    return fhir_response(practitioner_map.to_fhir(p))


def practitioner_search(request: HttpRequest) -> HttpResponse:
    _c, orgs = caller_orgs(request, "Practitioner", "s")
    qs = scoped.practitioners(orgs)
    if ids_ := params.tokens(request.GET, "_id"):
        qs = qs.filter(pk__in=valid_uuids([c for _s, c in ids_]))
    if idents := params.tokens(request.GET, "identifier"):
        rpps = [practitioner_map.rpps_from_identifier(v) for s, v in idents if s in (None, "", common.RPPS_SYSTEM)]
        qs = qs.filter(rpps__in=rpps)
    for name in request.GET.getlist("name"):
        qs = qs.filter(Q(family_name__icontains=name) | Q(given_name__icontains=name))
    return paged(request, "Practitioner", qs.order_by("family_name", "given_name", "pk"), practitioner_map.to_fhir)
