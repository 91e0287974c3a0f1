"""Slot: read and search of free slots, live or from the availability index."""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import heapq
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import translation
from django.utils.translation import gettext as _

from creneau.core import clock
from creneau.core.errors import NotFound
from creneau.scheduling import selectors as slot_selectors
from creneau.scheduling import versions as index_versions
from creneau.scheduling.models import AvailabilityIndex, Motif

from .. import capabilities, ids, params, search
from .. import selectors as scoped
from ..http import FhirError, fhir_body_response, fhir_json, fhir_response
from ..mappers import common
from ..mappers import practitioner as practitioner_map
from ..mappers import slot as slot_map
from .common import caller_orgs, token_codes, valid_uuids
from .schedule import actors_of, schedules_of

CHAIN = "schedule.actor:Practitioner.identifier"
APPOINTMENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0276"


def slot_read(request: HttpRequest, rid: str) -> HttpResponse:
    _c, orgs = caller_orgs(request, "Slot", "r")
    motif, site_id, start = scoped.access_slot(orgs, rid)
    end = start + dt.timedelta(seconds=1)

    def starts(*, include_appointments: bool) -> set[dt.datetime]:
        found = slot_selectors.free_slots(
            practitioner_id=motif.practitioner_id,
            motif_id=motif.pk,
            start=start,
            end=end,
            site_id=site_id,
            include_appointments=include_appointments,
        )
        return {s.start for s in found}

    if start not in starts(include_appointments=False):
        raise NotFound(_("Unknown slot."))
    free = start in starts(include_appointments=True)
    return fhir_response(slot_map.to_fhir(motif, site_id, start, free=free))


def _slot_window(bounds: list[params.DateBound], now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The period a live slot computation covers: from the lower bounds (or now) for at most
    CRENEAU_FHIR_SLOT_WINDOW_DAYS, cut by the upper bounds."""
    lo = now
    for b in bounds:
        if b.prefix in ("ge", "eq"):
            lo = max(lo, b.lo)
        elif b.prefix in ("gt", "sa"):
            lo = max(lo, b.hi)
    hi = lo + dt.timedelta(days=settings.CRENEAU_FHIR_SLOT_WINDOW_DAYS)
    for b in bounds:
        if b.prefix in ("le", "eq"):
            hi = min(hi, b.hi)
        elif b.prefix in ("lt", "eb"):
            hi = min(hi, b.lo)
    return lo, hi


def _live_slots(
    pairs: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]], lo: dt.datetime, hi: dt.datetime, now: dt.datetime
) -> list[tuple[dt.datetime, uuid.UUID, uuid.UUID]]:
    """Free slots of a few (practitioner, motif, site) computed from the agenda itself, in a fixed
    number of queries."""
    if hi <= lo or not pairs:
        return []
    pids = list({p for p, _m, _s in pairs})
    motifs = {m.pk: m for m in Motif.objects.filter(pk__in=[m for _p, m, _s in pairs])}
    rules = slot_selectors.rule_specs(pids)
    busy = slot_selectors.busy_intervals(pids, start=lo, end=hi + dt.timedelta(hours=12))
    tzs = slot_selectors.site_time_zones({s for _p, _m, s in pairs})
    found = []
    for pid, mid, sid in pairs:
        for slot in slot_selectors.compute_slots(
            motif=motifs[mid],
            rules=rules.get(pid, []),
            busy=busy.get(pid, []),
            tzs=tzs,
            start=lo,
            end=hi,
            now=now,
            site_id=sid,
        ):
            found.append((slot.start, mid, sid))
    return found


def _index_bounds(bounds: list[params.DateBound], now: dt.datetime) -> tuple[dt.datetime, dt.datetime | None]:
    """Every supported date prefix is a half-open interval: their intersection, after `now`, is
    [lo, hi) (hi None: unbounded), exactly the starts `DateBound.accepts` would keep."""
    lo, hi = now + dt.timedelta(microseconds=1), None
    for b in bounds:
        match b.prefix:
            case "eq":
                lo, hi = max(lo, b.lo), b.hi if hi is None else min(hi, b.hi)
            case "ge":
                lo = max(lo, b.lo)
            case "gt" | "sa":
                lo = max(lo, b.hi)
            case "le":
                hi = b.hi if hi is None else min(hi, b.hi)
            case _:
                hi = b.lo if hi is None else min(hi, b.lo)
    return lo, hi


def _index_slots(
    rows: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, list[str]]],
    bounds: list[params.DateBound],
    now: dt.datetime,
    stop: int,
) -> tuple[int, list[tuple[dt.datetime, uuid.UUID, uuid.UUID]]]:
    """(number of indexed starts matching, the first `stop` of them in order). Each row's starts are
    ascending: bisection finds its matching run without parsing it, a lazy merge parses only what is
    returned."""
    lo, hi = _index_bounds(bounds, now)
    parse = dt.datetime.fromisoformat
    total = 0
    runs = []
    for _pid, motif_id, site_id, starts in rows:
        i = bisect.bisect_left(starts, lo, key=parse)
        j = len(starts) if hi is None else bisect.bisect_left(starts, hi, lo=i, key=parse)
        if j <= i:
            continue
        total += j - i
        runs.append(_run(starts, i, j, motif_id, site_id))
    first = itertools.islice(heapq.merge(*runs), stop)
    return total, [(start, m, site) for start, _m, _s, m, site in first]


def _run(
    starts: list[str], i: int, j: int, motif_id: uuid.UUID, site_id: uuid.UUID
) -> Iterator[tuple[dt.datetime, int, int, uuid.UUID, uuid.UUID]]:
    # Many agendas share start times: ties break on the ids as integers (the order of UUIDs).
    m, s = motif_id.int, site_id.int
    for raw in itertools.islice(starts, i, j):
        yield dt.datetime.fromisoformat(raw), m, s, motif_id, site_id


def _slot_cache_key(request: HttpRequest, orgs: scoped.Orgs, now: dt.datetime) -> str:
    """What an answer depends on besides the index versions: the query, the caller's scope, the
    language and the time window. Hashed: the key holds no parameter value."""
    parts = [
        params.base_url(request),
        "&".join(sorted(f"{k}={v}" for k in request.GET for v in request.GET.getlist(k))),
        "public" if orgs is None else ",".join(sorted(str(o) for o in orgs)),
        translation.get_language() or "",
        ",".join(sorted(str(n) for n in getattr(request, search.IGNORED_ATTR, None) or [])),
        str(int(now.timestamp()) // settings.CRENEAU_FHIR_SLOT_CACHE_SECONDS),
    ]
    return "fhir:slot-search:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def slot_search(request: HttpRequest) -> HttpResponse:
    """Free slots. A search narrowed to a few agendas (schedule, service-type, a small specialty) is
    computed live over the requested window; a broad one reads the availability index (the next
    CRENEAU_INDEX_DAYS days, as the search pages do). Answers are cached for a few seconds under the
    index versions they were computed from, so a booking anywhere in the searched specialties is seen
    by the next search on every node."""
    _c, orgs = caller_orgs(request, "Slot", "s")
    q = request.GET
    schedules = q.getlist("schedule")
    chained = q.getlist(CHAIN)
    specialties = token_codes(q, "specialty", common.SPECIALTY_SYSTEM)
    services = token_codes(q, "service-type", common.MOTIF_SYSTEM)
    if not (schedules or chained or q.getlist("specialty") or q.getlist("service-type")):
        raise FhirError(400, _("Search slots by schedule, practitioner identifier, specialty or service-type."))
    for value in chained:
        if len([v for v in value.split(",") if v]) > capabilities.MAX_CHAINED_IDENTIFIERS:
            raise FhirError(
                400,
                _("At most %(n)d practitioners per slot search.") % {"n": capabilities.MAX_CHAINED_IDENTIFIERS},
            )
    statuses = [c for _s, c in params.tokens(q, "status")]
    bounds = params.dates(q, "start")
    pg = params.page(q)
    now = clock.now()
    key = ""
    versions: tuple[str, ...] = ()
    if settings.CRENEAU_FHIR_SLOT_CACHE_SECONDS:
        # Index versions of the specialties searched; the global one when no specialty narrows it.
        scopes = sorted(set(specialties)) if q.getlist("specialty") else [index_versions.GLOBAL]
        key = _slot_cache_key(request, orgs, now)
        body, versions = index_versions.versioned_get(key, scopes)
        if body is not None:
            return fhir_body_response(body)
    index = AvailabilityIndex.objects.filter(
        site__in=scoped.sites(orgs),
        motif__is_active=True,
        motif__bookable_online=True,
        practitioner__is_active=True,
    )
    if schedules:
        cond = Q(pk__in=[])
        for rid in params.reference_ids(q, "schedule", "Schedule"):
            try:
                pid, sid = ids.parse_pair_id(rid)
            except NotFound:
                continue
            cond |= Q(practitioner_id=pid, site_id=sid)
        index = index.filter(cond)
    for value in chained:
        sub = QueryDict(mutable=True)
        sub[CHAIN] = value
        rpps = [
            practitioner_map.rpps_from_identifier(v)
            for s, v in params.tokens(sub, CHAIN)
            if s in (None, "", common.RPPS_SYSTEM)
        ]
        index = index.filter(practitioner__rpps__in=rpps)
    if q.getlist("appointment-type") and not any(
        code == "ROUTINE" and s in (None, "", APPOINTMENT_TYPE_SYSTEM)
        for s, code in params.tokens(q, "appointment-type")
    ):
        index = index.none()
    if q.getlist("specialty"):
        index = index.filter(practitioner__specialty_id__in=specialties)
    if q.getlist("service-type"):
        index = index.filter(motif_id__in=valid_uuids(services))
    if statuses and "free" not in statuses:
        index = index.none()
    rows_ = list(index.values_list("practitioner_id", "motif_id", "site_id", "starts"))
    if len(rows_) <= settings.CRENEAU_FHIR_LIVE_SLOT_AGENDAS:
        lo, hi = _slot_window(bounds, now)
        live = _live_slots([(p, m, s) for p, m, s, _st in rows_], lo, hi, now)
        found = sorted(
            (r for r in live if all(b.accepts(r[0]) for b in bounds)), key=lambda r: (r[0], r[1].int, r[2].int)
        )
        total, rows = len(found), found[pg.offset : pg.offset + pg.count] if pg.count else []
    else:
        total, first = _index_slots(rows_, bounds, now, pg.offset + pg.count)
        rows = first[pg.offset :] if pg.count else []
    motifs = {
        m.pk: m for m in Motif.objects.select_related("practitioner__specialty").filter(pk__in={r[1] for r in rows})
    }
    resources = [slot_map.to_fhir(motifs[m], s, start) for start, m, s in rows]
    included: list[dict[str, Any]] = []
    if "Slot:schedule" in q.getlist("_include"):
        links, included = schedules_of(orgs, {(motifs[m].practitioner_id, s) for _start, m, s in rows})
        if "Schedule:actor" in q.getlist("_include:iterate"):
            included += actors_of(links)
    body = fhir_json(params.bundle(request, "Slot", resources, total=total, pg=pg, included=included))
    if key:
        index_versions.versioned_set(key, versions, body, settings.CRENEAU_FHIR_SLOT_CACHE_SECONDS)
    return fhir_body_response(body)
