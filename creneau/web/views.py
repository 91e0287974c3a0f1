"""Public pages: home and search, place suggestions, practitioner profile with its week calendar."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from creneau.core import clock
from creneau.core.errors import NotFound
from creneau.core.ids import parse_id
from creneau.directory.models import Specialty
from creneau.directory.selectors import practitioner_sites
from creneau.scheduling.models import Motif, OpeningRule
from creneau.scheduling.selectors import free_slots, practitioner_or_404

from . import places, search
from .common import domain_errors, monday_of, parse_day

PAGE_SIZE = 10
POPULAR_CITIES = ["Paris", "Lyon", "Marseille", "Toulouse", "Bordeaux", "Lille", "Nantes", "Strasbourg"]


def home(request: HttpRequest) -> HttpResponse:
    """Search by specialty and town or postcode; without a query, the search form and shortcuts."""
    specialty_q = request.GET.get("specialty", "").strip()[:120]
    where_q = request.GET.get("where", "").strip()[:120]
    context: dict[str, object] = {
        "specialty_q": specialty_q,
        "where_q": where_q,
        "specialties": list(Specialty.objects.all()),
        "popular_cities": POPULAR_CITIES,
        "searched": bool(specialty_q or where_q),
    }
    if not context["searched"]:
        return render(request, "web/home.html", context)
    problems: list[str] = []
    specialty = search.find_specialty(specialty_q) if specialty_q else None
    place = places.find_place(where_q) if where_q else None
    if not specialty_q:
        problems.append(_("Please choose a specialty."))
    elif specialty is None:
        problems.append(_("We do not know the specialty “%(q)s”. Pick one from the list.") % {"q": specialty_q})
    if not where_q:
        problems.append(_("Please enter a town or a postcode."))
    elif place is None:
        problems.append(_("We could not find the town or postcode “%(q)s”.") % {"q": where_q})
    if problems or specialty is None or place is None:
        context["problems"] = problems
        return render(request, "web/home.html", context, status=400)
    results = search.search(specialty=specialty, place=place)
    page = Paginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
    search.decorate(list(page.object_list))
    context.update({"specialty": specialty, "place": place, "page": page, "radius": search.DEFAULT_RADIUS_KM})
    return render(request, "web/home.html", context)


def suggest_places(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"results": places.suggest(request.GET.get("q", "")[:60])})


def _week_days(monday: dt.date) -> list[dt.date]:
    return [monday + dt.timedelta(days=i) for i in range(7)]


def week_calendar(
    *, practitioner_id: object, motif: Motif, monday: dt.date, tz: zoneinfo.ZoneInfo
) -> list[tuple[dt.date, list[object]]]:
    """Free slots of a motif for the week starting `monday` (local), grouped by local day."""
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(0), tzinfo=tz)
    slots = free_slots(practitioner_id=motif.practitioner_id, motif_id=motif.pk, start=start, end=end)
    days: dict[dt.date, list[object]] = {d: [] for d in _week_days(monday)}
    for slot in slots:
        days.setdefault(slot.start.astimezone(tz).date(), []).append(slot)
    return list(days.items())


@domain_errors
def practitioner(request: HttpRequest, practitioner_id: str) -> HttpResponse:
    """Public profile: sites and hours, visit reasons, languages, and a week of free slots."""
    doc = practitioner_or_404(practitioner_id)
    sites = practitioner_sites([doc.pk]).get(doc.pk, [])
    motifs = list(Motif.objects.filter(practitioner=doc, is_active=True, bookable_online=True))
    tz = sites[0].tz if sites else zoneinfo.ZoneInfo(settings.CRENEAU_DEFAULT_TIME_ZONE)
    today = clock.now().astimezone(tz).date()
    monday = monday_of(parse_day(request.GET.get("week"), today))
    this_monday = monday_of(today)
    if monday < this_monday:
        monday = this_monday
    motif = motifs[0] if motifs else None
    if request.GET.get("motif") and motifs:
        wanted = parse_id(request.GET["motif"])
        motif = next((m for m in motifs if m.pk == wanted), None)
        if motif is None:
            raise NotFound(_("Unknown visit reason."))
    rules = list(
        OpeningRule.objects.filter(practitioner=doc)
        .exclude(valid_until__lt=today)
        .exclude(valid_from__gt=today + dt.timedelta(days=60))
        .order_by("site_id", "weekday", "start_time")
    )
    hours: dict[object, list[OpeningRule]] = {}
    for rule in rules:
        hours.setdefault(rule.site_id, []).append(rule)
    site_rows = [(site, hours.get(site.pk, [])) for site in sites]
    calendar = week_calendar(practitioner_id=doc.pk, motif=motif, monday=monday, tz=tz) if motif else []
    horizon = today + dt.timedelta(days=motif.max_horizon_days if motif else 60)
    context = {
        "doc": doc,
        "site_rows": site_rows,
        "motifs": motifs,
        "motif": motif,
        "calendar": calendar,
        "monday": monday,
        "sunday": monday + dt.timedelta(days=6),
        "prev_week": monday - dt.timedelta(days=7) if monday > this_monday else None,
        "next_week": monday + dt.timedelta(days=7) if monday + dt.timedelta(days=7) <= horizon else None,
        "has_slots": any(slots for _day, slots in calendar),
        "tz": tz,
    }
    return render(request, "web/practitioner.html", context)
