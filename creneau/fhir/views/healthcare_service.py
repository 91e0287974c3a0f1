"""HealthcareService (a visit reason): read and search."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from creneau.scheduling.models import Motif

from .. import params
from .. import selectors as scoped
from ..http import fhir_response
from ..mappers import common
from ..mappers import healthcare_service as healthcare_service_map
from .common import caller_orgs, token_codes, valid_uuids


def _services(orgs: scoped.Orgs, motifs: list[Motif]) -> list[dict[str, Any]]:
    by_practitioner = scoped.role_sites({m.practitioner_id for m in motifs}, orgs)
    return [
        healthcare_service_map.to_fhir(
            m, [s for s in by_practitioner.get(m.practitioner_id, []) if s.organization_id == m.agenda.organization_id]
        )
        for m in motifs
    ]


def healthcare_service_read(request: HttpRequest, rid: str) -> HttpResponse:
    _c, orgs = caller_orgs(request, "HealthcareService", "r")
    motif = scoped.access_motif(orgs, rid)
    return fhir_response(_services(orgs, [motif])[0])


def healthcare_service_search(request: HttpRequest) -> HttpResponse:
    _c, orgs = caller_orgs(request, "HealthcareService", "s")
    qs = scoped.motifs(orgs)
    if ids_ := params.tokens(request.GET, "_id"):
        qs = qs.filter(pk__in=valid_uuids([c for _s, c in ids_]))
    if codes := token_codes(request.GET, "specialty", common.SPECIALTY_SYSTEM):
        qs = qs.filter(practitioner__specialty_id__in=codes)
    if refs := params.reference_ids(request.GET, "organization", "Organization"):
        qs = qs.filter(practitioner__site_links__site__organization_id__in=valid_uuids(refs)).distinct()
    if refs := params.reference_ids(request.GET, "location", "Location"):
        qs = qs.filter(practitioner__site_links__site_id__in=valid_uuids(refs)).distinct()
    pg = params.page(request.GET)
    qs = qs.order_by("practitioner_id", "position", "name", "pk")
    total = qs.count()
    rows = list(qs[pg.offset : pg.offset + pg.count]) if pg.count else []
    return fhir_response(params.bundle(request, "HealthcareService", _services(orgs, rows), total=total, pg=pg))
