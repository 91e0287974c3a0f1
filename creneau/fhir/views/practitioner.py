"""Practitioner: read and search."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest, HttpResponse

from creneau.directory.vocabulary import fold

from .. import params
from .. import selectors as scoped
from ..http import fhir_response
from ..mappers import common
from ..mappers import practitioner as practitioner_map
from ..mappers import practitioner_role as practitioner_role_map
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
    for value in request.GET.getlist("name"):
        qs = qs.filter(name_filter(value))
    qs = qs.order_by("family_name", "given_name", "pk")
    if "PractitionerRole:practitioner" not in request.GET.getlist("_revinclude"):
        return paged(request, "Practitioner", qs, practitioner_map.to_fhir)
    pg = params.page(request.GET)
    total = qs.count()
    rows = list(qs[pg.offset : pg.offset + pg.count]) if pg.count else []
    links = scoped.roles(orgs).filter(practitioner_id__in=[p.pk for p in rows]).order_by("practitioner_id", "site_id")
    roles = [practitioner_role_map.to_fhir(link.practitioner, link.site) for link in links]
    resources = [practitioner_map.to_fhir(p) for p in rows]
    return fhir_response(params.bundle(request, "Practitioner", resources, total=total, pg=pg, included=roles))


def name_filter(value: str) -> Q:
    """FHIR string search: a given or family name starting with the value, case and accent
    insensitive (against the folded name key); comma-separated values OR."""
    cond = Q(pk__in=[])
    for part in value.split(","):
        folded = fold(part)
        if folded:
            cond |= Q(name_key__startswith=folded) | Q(name_key__contains=f" {folded}")
    return cond
