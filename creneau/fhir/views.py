"""FHIR R4 endpoints. Thin: authenticate, scope, call a selector or service, map, answer."""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import heapq
import itertools
import logging
import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _

from creneau.booking import selectors as booking_selectors
from creneau.booking import services as booking_services
from creneau.booking.models import Appointment
from creneau.core import clock
from creneau.core.errors import NotFound
from creneau.core.failures import is_unavailable
from creneau.patients import selectors as patient_selectors
from creneau.patients import services as patient_services
from creneau.scheduling import selectors as slot_selectors
from creneau.scheduling import versions as index_versions
from creneau.scheduling.models import AvailabilityIndex, Motif

from . import capabilities, ids, openapi, params
from . import selectors as scoped
from .http import Caller, FhirError, authenticate, endpoint, fhir_body_response, fhir_json, fhir_response, read_body
from .mappers import appointment as appointment_map
from .mappers import common
from .mappers import healthcare_service as healthcare_service_map
from .mappers import location as location_map
from .mappers import organization as organization_map
from .mappers import patient as patient_map
from .mappers import practitioner as practitioner_map
from .mappers import practitioner_role as practitioner_role_map
from .mappers import schedule as schedule_map
from .mappers import slot as slot_map
from .oauth import ALGORITHMS

logger = logging.getLogger("creneau.fhir")


def _uuids(values: list[str]) -> list[uuid.UUID]:
    """Valid UUIDs among search values; the others match nothing."""
    out = []
    for v in values:
        try:
            out.append(uuid.UUID(v))
        except ValueError:
            continue
    return out


def _codes(query: Any, name: str, system: str) -> list[str]:
    return [code for sys, code in params.tokens(query, name) if sys in (None, "", system)]


def _page(request: HttpRequest, rtype: str, qs: QuerySet[Any], mapper: Any) -> HttpResponse:
    pg = params.page(request.GET)
    total = qs.count()
    rows = list(qs[pg.offset : pg.offset + pg.count]) if pg.count else []
    return fhir_response(params.bundle(request, rtype, [mapper(r) for r in rows], total=total, pg=pg))


def _orgs(request: HttpRequest, rtype: str, letter: str) -> tuple[Caller, scoped.Orgs]:
    caller = authenticate(request, anonymous_ok=True)
    return caller, caller.organizations(rtype, letter)


# --- Organization -----------------------------------------------------------------------------------


def organization_read(request: HttpRequest, rid: str) -> HttpResponse:
    _c, orgs = _orgs(request, "Organization", "r")
    org = scoped.access_organization(orgs, rid)
    return fhir_response(organization_map.to_fhir(org))


def organization_search(request: HttpRequest) -> HttpResponse:
    _c, orgs = _orgs(request, "Organization", "s")
    qs = scoped.organizations(orgs)
    if ids_ := params.tokens(request.GET, "_id"):
        qs = qs.filter(pk__in=_uuids([c for _s, c in ids_]))
    for name in request.GET.getlist("name"):
        qs = qs.filter(name__icontains=name)
    return _page(request, "Organization", qs.order_by("name", "pk"), organization_map.to_fhir)


# --- Location ---------------------------------------------------------------------------------------


def location_read(request: HttpRequest, rid: str) -> HttpResponse:
    _c, orgs = _orgs(request, "Location", "r")
    site = scoped.access_site(orgs, rid)
    return fhir_response(location_map.to_fhir(site))


def location_search(request: HttpRequest) -> HttpResponse:
    _c, orgs = _orgs(request, "Location", "s")
    qs = scoped.sites(orgs)
    if ids_ := params.tokens(request.GET, "_id"):
        qs = qs.filter(pk__in=_uuids([c for _s, c in ids_]))
    if refs := params.reference_ids(request.GET, "organization", "Organization"):
        qs = qs.filter(organization_id__in=_uuids(refs))
    for city in request.GET.getlist("address-city"):
        qs = qs.filter(city__istartswith=city)
    for postcode in request.GET.getlist("address-postalcode"):
        qs = qs.filter(postcode__startswith=postcode)
    return _page(request, "Location", qs.order_by("name", "pk"), location_map.to_fhir)


# --- Practitioner -----------------------------------------------------------------------------------


def practitioner_read(request: HttpRequest, rid: str) -> HttpResponse:
    _c, orgs = _orgs(request, "Practitioner", "r")
    p = scoped.access_practitioner(orgs, rid)
    return fhir_response(practitioner_map.to_fhir(p))


def practitioner_search(request: HttpRequest) -> HttpResponse:
    _c, orgs = _orgs(request, "Practitioner", "s")
    qs = scoped.practitioners(orgs)
    if ids_ := params.tokens(request.GET, "_id"):
        qs = qs.filter(pk__in=_uuids([c for _s, c in ids_]))
    if idents := params.tokens(request.GET, "identifier"):
        rpps = [practitioner_map.rpps_from_identifier(v) for s, v in idents if s in (None, "", common.RPPS_SYSTEM)]
        qs = qs.filter(rpps__in=rpps)
    for name in request.GET.getlist("name"):
        qs = qs.filter(Q(family_name__icontains=name) | Q(given_name__icontains=name))
    return _page(request, "Practitioner", qs.order_by("family_name", "given_name", "pk"), practitioner_map.to_fhir)


# --- PractitionerRole and Schedule (a practitioner at a site) ----------------------------------------


def _roles(request: HttpRequest, orgs: scoped.Orgs) -> QuerySet[Any]:
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
    if codes := _codes(request.GET, "specialty", common.SPECIALTY_SYSTEM):
        qs = qs.filter(practitioner__specialty_id__in=codes)
    return qs.order_by("practitioner__family_name", "practitioner_id", "site_id")


def practitioner_role_read(request: HttpRequest, rid: str) -> HttpResponse:
    _c, orgs = _orgs(request, "PractitionerRole", "r")
    link = scoped.access_role(orgs, *ids.parse_pair_id(rid))
    return fhir_response(practitioner_role_map.to_fhir(link.practitioner, link.site))


def practitioner_role_search(request: HttpRequest) -> HttpResponse:
    _c, orgs = _orgs(request, "PractitionerRole", "s")
    qs = _roles(request, orgs)
    if refs := params.reference_ids(request.GET, "practitioner", "Practitioner"):
        qs = qs.filter(practitioner_id__in=_uuids(refs))
    if refs := params.reference_ids(request.GET, "organization", "Organization"):
        qs = qs.filter(site__organization_id__in=_uuids(refs))
    if refs := params.reference_ids(request.GET, "location", "Location"):
        qs = qs.filter(site_id__in=_uuids(refs))
    return _page(
        request, "PractitionerRole", qs, lambda link: practitioner_role_map.to_fhir(link.practitioner, link.site)
    )


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
    _c, orgs = _orgs(request, "Schedule", "r")
    link = scoped.access_role(orgs, *ids.parse_pair_id(rid))
    return fhir_response(_schedule(link, _online_motifs([link.practitioner_id])))


def schedule_search(request: HttpRequest) -> HttpResponse:
    _c, orgs = _orgs(request, "Schedule", "s")
    qs = _roles(request, orgs)
    actor_filter = Q()
    for value in request.GET.getlist("actor"):
        cond = Q(pk__in=[])
        for part in value.split(","):
            segments = part.rstrip("/").split("/")
            kind, rid = (segments[-2], segments[-1]) if len(segments) >= 2 else ("", part)
            found = _uuids([rid])
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
    return fhir_response(params.bundle(request, "Schedule", resources, total=total, pg=pg))


# --- HealthcareService (visit reasons) --------------------------------------------------------------


def _services(orgs: scoped.Orgs, motifs: list[Motif]) -> list[dict[str, Any]]:
    by_practitioner = scoped.role_sites({m.practitioner_id for m in motifs}, orgs)
    return [
        healthcare_service_map.to_fhir(
            m, [s for s in by_practitioner.get(m.practitioner_id, []) if s.organization_id == m.agenda.organization_id]
        )
        for m in motifs
    ]


def healthcare_service_read(request: HttpRequest, rid: str) -> HttpResponse:
    _c, orgs = _orgs(request, "HealthcareService", "r")
    motif = scoped.access_motif(orgs, rid)
    return fhir_response(_services(orgs, [motif])[0])


def healthcare_service_search(request: HttpRequest) -> HttpResponse:
    _c, orgs = _orgs(request, "HealthcareService", "s")
    qs = scoped.motifs(orgs)
    if ids_ := params.tokens(request.GET, "_id"):
        qs = qs.filter(pk__in=_uuids([c for _s, c in ids_]))
    if codes := _codes(request.GET, "specialty", common.SPECIALTY_SYSTEM):
        qs = qs.filter(practitioner__specialty_id__in=codes)
    if refs := params.reference_ids(request.GET, "organization", "Organization"):
        qs = qs.filter(practitioner__site_links__site__organization_id__in=_uuids(refs)).distinct()
    if refs := params.reference_ids(request.GET, "location", "Location"):
        qs = qs.filter(practitioner__site_links__site_id__in=_uuids(refs)).distinct()
    pg = params.page(request.GET)
    qs = qs.order_by("practitioner_id", "position", "name", "pk")
    total = qs.count()
    rows = list(qs[pg.offset : pg.offset + pg.count]) if pg.count else []
    return fhir_response(params.bundle(request, "HealthcareService", _services(orgs, rows), total=total, pg=pg))


# --- Slot ---------------------------------------------------------------------------------------------


def slot_read(request: HttpRequest, rid: str) -> HttpResponse:
    _c, orgs = _orgs(request, "Slot", "r")
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
        str(int(now.timestamp()) // settings.CRENEAU_FHIR_SLOT_CACHE_SECONDS),
    ]
    return "fhir:slot-search:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def slot_search(request: HttpRequest) -> HttpResponse:
    """Free slots. A search narrowed to a few agendas (schedule, service-type, a small specialty) is
    computed live over the requested window; a broad one reads the availability index (the next
    CRENEAU_INDEX_DAYS days, as the search pages do). Answers are cached for a few seconds under the
    index versions they were computed from, so a booking anywhere in the searched specialties is seen
    by the next search on every node."""
    _c, orgs = _orgs(request, "Slot", "s")
    q = request.GET
    schedules = q.getlist("schedule")
    specialties = _codes(q, "specialty", common.SPECIALTY_SYSTEM)
    services = _codes(q, "service-type", common.MOTIF_SYSTEM)
    if not (schedules or q.getlist("specialty") or q.getlist("service-type")):
        raise FhirError(400, _("Search slots by schedule, specialty or service-type."))
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
    if q.getlist("specialty"):
        index = index.filter(practitioner__specialty_id__in=specialties)
    if q.getlist("service-type"):
        index = index.filter(motif_id__in=_uuids(services))
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
    body = fhir_json(params.bundle(request, "Slot", resources, total=total, pg=pg))
    if key:
        index_versions.versioned_set(key, versions, body, settings.CRENEAU_FHIR_SLOT_CACHE_SECONDS)
    return fhir_body_response(body)


# --- Appointment ------------------------------------------------------------------------------------


def _appointment_resource(caller: Caller, a: Appointment) -> dict[str, Any]:
    readable = caller.has("Patient", "r") and a.organization_id in (caller.organizations("Patient", "r") or ())
    return appointment_map.to_fhir(a, patient_display=readable)


def appointment_read(request: HttpRequest, rid: str) -> HttpResponse:
    caller = authenticate(request, anonymous_ok=False)
    a = booking_selectors.access_appointment(caller.actor("Appointment", "r"), rid)
    return fhir_response(_appointment_resource(caller, a))


def appointment_search(request: HttpRequest) -> HttpResponse:
    caller = authenticate(request, anonymous_ok=False)
    q = request.GET
    qs = booking_selectors.appointments_visible_to(caller.actor("Appointment", "s"))
    if ids_ := params.tokens(q, "_id"):
        qs = qs.filter(pk__in=_uuids([c for _s, c in ids_]))
    for bound in params.dates(q, "date"):
        qs = qs.filter(**bound.filters("start_at"))
    for bound in params.dates(q, "_lastUpdated"):
        qs = qs.filter(**bound.filters("updated_at"))
    if statuses := [c for _s, c in params.tokens(q, "status")]:
        qs = qs.filter(status__in=[appointment_map.FROM_FHIR_STATUS.get(s, "-") for s in statuses])
    if q.getlist("practitioner"):
        qs = qs.filter(practitioner_id__in=_uuids(params.reference_ids(q, "practitioner", "Practitioner")))
    if q.getlist("patient"):
        qs = qs.filter(patient_id__in=_uuids(params.reference_ids(q, "patient", "Patient")))
    return _page(request, "Appointment", qs.order_by("start_at", "pk"), lambda a: _appointment_resource(caller, a))


def appointment_create(request: HttpRequest) -> HttpResponse:
    """Book: a free Slot for a Patient known to the slot's organization. 201, 404 (slot or patient
    out of scope), 409 (taken meanwhile), 422 (business rule)."""
    caller = authenticate(request, anonymous_ok=False)
    actor = caller.actor("Appointment", "c")
    booking = appointment_map.booking_from_fhir(read_body(request, "Appointment"))
    practitioner_id, motif_id, site_id, start = scoped.slot_to_book(booking.slot_id)
    key = request.META.get("HTTP_IDEMPOTENCY_KEY") or None
    a = booking_services.appointment_book(
        actor=actor,
        slot=booking_services.SlotRef(practitioner_id, motif_id, site_id, start),
        patient_id=booking.patient_id,
        idempotency_key=key,
    )
    location = {"Location": f"{params.base_url(request)}Appointment/{a.pk}"}
    try:
        resource = _appointment_resource(caller, booking_selectors.access_appointment(actor, a.pk))
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        # Committed, but the database went away before it could be read back: still a success (201 and
        # the Location to read it from later), never a 503 the client would take for a failed booking.
        logger.warning("fhir: booking %s committed, representation unavailable (%s)", a.pk, type(exc).__name__)
        return HttpResponse(status=201, headers={**location, "Cache-Control": "no-store"})
    return fhir_response(resource, 201, location)


def appointment_update(request: HttpRequest, rid: str) -> HttpResponse:
    """An update changes the status only: `cancelled` cancels; sending the current status is a no-op."""
    caller = authenticate(request, anonymous_ok=False)
    actor = caller.actor("Appointment", "u")
    current = booking_selectors.access_appointment(actor, rid)
    wanted = appointment_map.status_from_fhir(read_body(request, "Appointment"), str(current.pk))
    if wanted != current.status:
        if wanted != "cancelled":
            raise FhirError(422, _("An update can only cancel an appointment."))
        booking_services.appointment_cancel(actor=actor, appointment_id=current.pk)
    a = booking_selectors.access_appointment(actor, current.pk)
    return fhir_response(_appointment_resource(caller, a))


# --- Patient ----------------------------------------------------------------------------------------


def patient_read(request: HttpRequest, rid: str) -> HttpResponse:
    caller = authenticate(request, anonymous_ok=False)
    patient = patient_selectors.access_patient(caller.actor("Patient", "r"), rid)
    return fhir_response(patient_map.to_fhir(patient))


def patient_search(request: HttpRequest) -> HttpResponse:
    """Among the patients known to the granting organizations, by _id or by family name, birth date
    and/or phone (at least one). Never a listing of everyone."""
    caller = authenticate(request, anonymous_ok=False)
    actor = caller.actor("Patient", "s")
    q = request.GET
    pg = params.page(q)
    if ids_ := params.tokens(q, "_id"):
        found = list(patient_selectors.patients_visible_to(actor).filter(pk__in=_uuids([c for _s, c in ids_])))
    else:
        births = params.dates(q, "birthdate")
        if births and (births[0].prefix != "eq" or births[0].hi - births[0].lo > dt.timedelta(hours=25)):
            raise FhirError(400, _("Search birthdate by an exact date."))
        phones = [c for _s, c in params.tokens(q, "phone")]
        emails = [c for _s, c in params.tokens(q, "email")]
        if not (q.get("family") or births or phones or emails):
            raise FhirError(400, _("Search patients by _id, family and birthdate, phone or email."))
        found = patient_selectors.patient_search_for_organization(
            actor,
            family_name=q.get("family", ""),
            birth_date=births[0].lo.astimezone(params.PARIS).date() if births else None,
            phone=phones[0] if phones else "",
            limit=pg.offset + pg.count,
            **({"email": emails[0]} if emails else {}),
        )
    rows = found[pg.offset : pg.offset + pg.count] if pg.count else []
    resources = [patient_map.to_fhir(p) for p in rows]
    return fhir_response(params.bundle(request, "Patient", resources, total=len(found), pg=pg))


def patient_create(request: HttpRequest) -> HttpResponse:
    caller = authenticate(request, anonymous_ok=False)
    actor = caller.actor("Patient", "c")
    new = patient_map.create_from_fhir(read_body(request, "Patient"))
    if new.organization_id not in actor.organization_ids:
        raise NotFound(_("Unknown organization."))
    patient = patient_services.patient_create_for_organization(
        actor=actor, organization_id=new.organization_id, **new.identity
    )
    base = params.base_url(request)
    return fhir_response(patient_map.to_fhir(patient), 201, {"Location": f"{base}Patient/{patient.pk}"})


# --- Conformance --------------------------------------------------------------------------------------


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
            "capabilities": ["client-confidential-symmetric", "client-confidential-asymmetric"],
        }
    )


def capabilities_scopes() -> list[str]:
    from .scopes import GRANTABLE

    return list(GRANTABLE)


ROUTES: dict[str, dict[str, Any]] = {
    "Organization": {"search": organization_search, "read": organization_read},
    "Location": {"search": location_search, "read": location_read},
    "Practitioner": {"search": practitioner_search, "read": practitioner_read},
    "PractitionerRole": {"search": practitioner_role_search, "read": practitioner_role_read},
    "HealthcareService": {"search": healthcare_service_search, "read": healthcare_service_read},
    "Schedule": {"search": schedule_search, "read": schedule_read},
    "Slot": {"search": slot_search, "read": slot_read},
    "Appointment": {
        "search": appointment_search,
        "read": appointment_read,
        "create": appointment_create,
        "update": appointment_update,
    },
    "Patient": {"search": patient_search, "read": patient_read, "create": patient_create},
}


def type_view(resource_type: str) -> Any:
    handlers = ROUTES[resource_type]
    methods = {"GET": handlers["search"]}
    if "create" in handlers:
        methods["POST"] = handlers["create"]
    return endpoint(methods)


def instance_view(resource_type: str) -> Any:
    handlers = ROUTES[resource_type]
    methods = {"GET": handlers["read"]}
    if "update" in handlers:
        methods["PUT"] = handlers["update"]
    return endpoint(methods)


assert set(ROUTES) == set(capabilities.RESOURCES)


def unknown(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    raise FhirError(404, _("Unknown resource type or operation."))
