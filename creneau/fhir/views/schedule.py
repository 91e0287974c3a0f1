"""Schedule (a practitioner's agenda at a site, with its online visit reasons): read and search."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse

from creneau.core import clock
from creneau.scheduling import selectors as slot_selectors
from creneau.scheduling.models import Motif

from .. import ids, params
from .. import selectors as scoped
from ..http import fhir_response
from ..mappers import location as location_map
from ..mappers import practitioner as practitioner_map
from ..mappers import practitioner_role as practitioner_role_map
from ..mappers import schedule as schedule_map
from .common import caller_orgs, valid_uuids
from .practitioner_role import roles_query


def _horizon() -> tuple[dt.datetime, dt.datetime]:
    now = clock.now()
    return now, now + slot_selectors.index_horizon()


def _schedule(link: Any, motifs_by_agenda: dict[tuple[uuid.UUID, uuid.UUID], list[Motif]]) -> dict[str, Any]:
    key = (link.practitioner_id, link.site.organization_id)
    return schedule_map.to_fhir(link.practitioner, link.site, motifs_by_agenda.get(key, []), horizon=_horizon())


def _online_motifs(practitioner_ids: list[uuid.UUID]) -> dict[tuple[uuid.UUID, uuid.UUID], list[Motif]]:
    """Online visit reasons per agenda (practitioner, organization): a site offers its organization's."""
    out: dict[tuple[uuid.UUID, uuid.UUID], list[Motif]] = {}
    for m in Motif.objects.select_related("agenda").filter(
        practitioner_id__in=practitioner_ids, is_active=True, bookable_online=True
    ):
        out.setdefault((m.practitioner_id, m.agenda.organization_id), []).append(m)
    return out


def schedule_read(request: HttpRequest, rid: str) -> HttpResponse:
    _c, orgs = caller_orgs(request, "Schedule", "r")
    link = scoped.access_role(orgs, *ids.parse_pair_id(rid))
    return fhir_response(_schedule(link, _online_motifs([link.practitioner_id])))


def schedule_search(request: HttpRequest) -> HttpResponse:
    _c, orgs = caller_orgs(request, "Schedule", "s")
    qs = roles_query(request, orgs)
    actor_filter = Q()
    for value in request.GET.getlist("actor"):
        cond = Q(pk__in=[])
        for part in value.split(","):
            segments = part.rstrip("/").split("/")
            kind, rid = (segments[-2], segments[-1]) if len(segments) >= 2 else ("", part)
            found = valid_uuids([rid])
            if kind in ("", "Practitioner"):
                cond |= Q(practitioner_id__in=found)
            if kind in ("", "Location"):
                cond |= Q(site_id__in=found)
        actor_filter &= cond
    qs = qs.filter(actor_filter)
    pg = params.page(request.GET)
    total = qs.count()
    rows = list(qs[pg.offset : pg.offset + pg.count]) if pg.count else []
    motifs = _online_motifs([r.practitioner_id for r in rows])
    resources = [_schedule(r, motifs) for r in rows]
    included = actors_of(rows) if "Schedule:actor" in request.GET.getlist("_include") else []
    return fhir_response(params.bundle(request, "Schedule", resources, total=total, pg=pg, included=included))


def schedules_of(orgs: scoped.Orgs, pairs: set[tuple[uuid.UUID, uuid.UUID]]) -> tuple[list[Any], list[dict[str, Any]]]:
    """The visible (practitioner, site) links among `pairs` and their Schedules (`_include=Slot:schedule`)."""
    if not pairs:
        return [], []
    cond = Q(pk__in=[])
    for pid, sid in sorted(pairs):
        cond |= Q(practitioner_id=pid, site_id=sid)
    links = list(scoped.roles(orgs).filter(cond).order_by("practitioner_id", "site_id"))
    motifs = _online_motifs([link.practitioner_id for link in links])
    return links, [_schedule(link, motifs) for link in links]


def actors_of(links: list[Any]) -> list[dict[str, Any]]:
    """The actors of these Schedules: Practitioner, PractitionerRole and Location (`Schedule:actor`)."""
    out: list[dict[str, Any]] = []
    for link in links:
        out += [
            practitioner_map.to_fhir(link.practitioner),
            practitioner_role_map.to_fhir(link.practitioner, link.site),
            location_map.to_fhir(link.site),
        ]
    return out
