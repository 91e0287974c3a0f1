"""Public pages: home and search, place suggestions, practitioner profile with its week calendar."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import zoneinfo

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from creneau.accounts.actors import patient_actor
from creneau.booking.selectors import practitioners_seen_by_account
from creneau.core import clock
from creneau.core.errors import NotFound
from creneau.core.ids import parse_id
from creneau.directory import vocabulary
from creneau.directory.models import ConventionSector, PaymentMethod, Practitioner, PractitionerPhoto, Specialty
from creneau.directory.selectors import practitioner_sites
from creneau.scheduling import versions as index_versions
from creneau.scheduling.models import Audience, Motif, OpeningRule
from creneau.scheduling.selectors import free_slots, practitioner_or_404

from . import places, search
from .common import domain_errors, monday_of, parse_day

PAGE_SIZE = 10
POPULAR_CITIES = ["Paris", "Lyon", "Marseille", "Toulouse", "Bordeaux", "Lille", "Nantes", "Strasbourg"]


LANGUAGES_OFFERED = (("en", "English"), ("es", "Español"), ("de", "Deutsch"), ("it", "Italiano"), ("ar", "العربية"))
MAX_QUERY = 120


def _filters(get: QueryDict) -> search.Filters:
    """Search filters from the query string; anything unexpected falls back to the default."""
    radius = get.get("radius", "")
    lang = get.get("lang", "")
    sector = get.get("sector", "")
    available = get.get("available", "")
    sort = get.get("sort", "")
    return search.Filters(
        video=get.get("video") == "1",
        language=lang if lang in {code for code, _name in LANGUAGES_OFFERED} else "",
        sector=sector if sector in ConventionSector.values else "",
        new_patients=get.get("new") == "1",
        available=available if available in search.AVAILABLE_CHOICES else "",
        radius_km=float(radius)
        if radius.isdigit() and int(radius) in search.RADIUS_CHOICES
        else search.DEFAULT_RADIUS_KM,
        sort=sort if sort in search.SORT_CHOICES else "soonest",
    )


def _position(get: QueryDict) -> places.Place | None:
    """'Around me': the browser's position, rounded to about a kilometre (the page never needs more)."""
    try:
        lat, lon = round(float(get.get("lat", "")), 2), round(float(get.get("lon", "")), 2)
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        return None
    return places.Place(name=_("around you"), postcodes=(), latitude=lat, longitude=lon, population=0)


def _suggested_specialties(codes: tuple[str, ...]) -> list[Specialty]:
    if not codes:
        codes = ("SM54", "SM15", "SM35")
    found = {s.code: s for s in Specialty.objects.filter(code__in=codes)}
    return [found[c] for c in codes if c in found]


def _results_cache_key(request: HttpRequest) -> str:
    """The query, the language and the time window of a results block, hashed (no typed text in the key)."""
    get = request.GET
    parts = [
        "&".join(sorted(f"{k}={v}" for k in get for v in get.getlist(k))),
        translation.get_language() or "",
        str(int(clock.now().timestamp()) // settings.CRENEAU_SEARCH_CACHE_SECONDS),
    ]
    return "web:search-results:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def home(request: HttpRequest) -> HttpResponse:
    """Search by specialty (in everyday words) or name, and a town, postcode, arrondissement or the
    browser's position; without a query, the search form and shortcuts."""
    get = request.GET
    specialty_q = get.get("specialty", "").strip()
    where_q = get.get("where", "").strip()
    near_me = "lat" in get or "lon" in get
    filters = _filters(get)
    context: dict[str, object] = {
        "specialty_q": specialty_q[:MAX_QUERY],
        "where_q": where_q[:MAX_QUERY],
        "specialties": Specialty.objects.all(),  # read only if the form is rendered (not from the cache)
        "popular_cities": POPULAR_CITIES,
        "searched": "specialty" in get or "where" in get or near_me,
        "filters": filters,
        "radius_choices": search.RADIUS_CHOICES,
        "languages_offered": LANGUAGES_OFFERED,
        "sectors": ConventionSector.choices,
        "map_tiles": settings.CRENEAU_MAP_TILE_URL,
        "map_attribution": settings.CRENEAU_MAP_ATTRIBUTION,
        "lat": get.get("lat", "")[:12],
        "lon": get.get("lon", "")[:12],
    }
    if not context["searched"]:
        return render(request, "web/home.html", context)
    problems: list[str] = []
    suggestions: list[Specialty] = []
    specialty: Specialty | None = None
    name_query = ""
    if len(specialty_q) > MAX_QUERY or len(where_q) > MAX_QUERY:
        problems.append(_("Your search is too long: %(n)s characters at most.") % {"n": MAX_QUERY})
    elif not specialty_q:
        problems.append(_("Please type a specialty (for example “dermatologue”) or a practitioner’s name."))
    else:
        understood = vocabulary.understand(specialty_q)
        if understood.code:
            specialty = Specialty.objects.filter(code=understood.code).first()
        elif understood.profession:
            fr, en = understood.profession
            context["profession"] = en if (request.LANGUAGE_CODE or "fr").startswith("en") else fr
            return render(request, "web/home.html", context)
        elif search.search(name_query=specialty_q, place=None, filters=search.Filters()):
            name_query = specialty_q
        else:
            suggestions = _suggested_specialties(understood.suggestions)
            problems.append(
                _("We do not know the specialty or practitioner “%(q)s”. Did you mean one of these?")
                % {"q": specialty_q}
            )
    place: places.Place | None = None
    if near_me:
        place = _position(get)
        if place is None:
            problems.append(_("Your position could not be read. Type a town or a postcode instead."))
    elif where_q and len(where_q) <= MAX_QUERY:
        place = places.find_place(where_q)
        if place is None:
            problems.append(_("We could not find the town or postcode “%(q)s”.") % {"q": where_q})
    elif not where_q and not name_query and not problems:
        problems.append(_("Please enter a town, a postcode or use your position."))
    context["suggestions"] = suggestions
    if problems or (specialty is None and not name_query):
        context["problems"] = problems
        return render(request, "web/home.html", context, status=400)
    known = practitioners_seen_by_account(patient_actor(request)) if request.user.is_authenticated else set()
    context.update({"specialty": specialty, "name_query": name_query, "place": place, "show_results": True})
    # The page's content (form and results) is the same for everyone who has seen none of these
    # practitioners: rendered once per query, language and index version (a booking anywhere in the
    # specialty replaces the version), for at most CRENEAU_SEARCH_CACHE_SECONDS.
    key = ""
    versions: tuple[str, ...] = ()
    if not known and settings.CRENEAU_SEARCH_CACHE_SECONDS:
        scopes = [str(specialty.pk)] if specialty is not None else [index_versions.GLOBAL]
        key = _results_cache_key(request)
        cached, versions = index_versions.versioned_get(key, scopes)
        if cached is not None:
            html, has_points = cached
            context["content_html"], context["has_points"] = mark_safe(html), has_points  # noqa: S308 (our own rendering)
            return render(request, "web/home.html", context)
    results = search.search(
        specialty=specialty, name_query=name_query, place=place, filters=filters, known_practitioners=known
    )
    page = Paginator(results, PAGE_SIZE).get_page(get.get("page"))
    shown = list(page.object_list)
    search.decorate(shown, first_number=page.start_index() or 1)
    query = get.copy()
    query.pop("page", None)
    context.update(
        {
            "page": page,
            "radius": filters.radius_km,
            "points": search.map_points(shown),
            "query_string": query.urlencode(),
            "filters_active": any(
                (filters.video, filters.language, filters.sector, filters.new_patients, filters.available)
            ),
        }
    )
    html = render_to_string("web/includes/search_page.html", context, request=request)
    context["content_html"], context["has_points"] = html, bool(shown)
    if key:
        index_versions.versioned_set(key, versions, (html, bool(shown)), settings.CRENEAU_SEARCH_CACHE_SECONDS)
    return render(request, "web/home.html", context)


def suggest_places(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"results": places.suggest(request.GET.get("q", "")[:60])})


def suggest_what(request: HttpRequest) -> JsonResponse:
    """Autocomplete of the 'what' field: specialties (from everyday words), then practitioners."""
    q = request.GET.get("q", "").strip()[:60]
    codes = vocabulary.suggest(q)
    found = {s.code: s.label for s in Specialty.objects.filter(code__in=codes)} if codes else {}
    results = [found[c] for c in codes if c in found]
    words = vocabulary.fold(q).split()
    if len(q) >= 3 and words:
        by_name = Q()
        for word in words:
            by_name &= Q(name_key__contains=word)
        for p in Practitioner.objects.filter(by_name, is_active=True).order_by("family_name")[:5]:
            results.append(f"{p.given_name} {p.family_name}")
    return JsonResponse({"results": results})


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


def _seen_answer(request: HttpRequest, doc: Practitioner) -> str:
    """'yes' or 'no' to "Have you already seen this practitioner?": as answered, else inferred for a
    signed-in patient from their account's past visits, else '' (not asked yet)."""
    answer = request.GET.get("seen", "")
    if answer in ("yes", "no"):
        return answer
    if request.user.is_authenticated:
        return "yes" if doc.pk in practitioners_seen_by_account(patient_actor(request)) else "no"
    return ""


@domain_errors
def practitioner(request: HttpRequest, practitioner_id: str) -> HttpResponse:
    """Public profile: sites and hours, visit reasons, languages, and a week of free slots of the
    visit reasons the patient may book (asking first whether they were seen before, when it matters)."""
    doc = practitioner_or_404(practitioner_id)
    sites = practitioner_sites([doc.pk]).get(doc.pk, [])
    all_motifs = list(Motif.objects.filter(practitioner=doc, is_active=True, bookable_online=True))
    # The public list: every visit reason shown online (some booked by phone only), by category.
    listed = sorted(
        Motif.objects.filter(practitioner=doc, is_active=True, shown_online=True, agenda__is_active=True),
        key=lambda m: (m.category.casefold(), m.position, m.name.casefold()),
    )
    seen = _seen_answer(request, doc)
    # The answer matters when some visit reason is for new or returning patients only, or when the
    # practitioner takes no new patients.
    must_ask = not doc.accepts_new_patients or any(m.audience != Audience.ALL for m in all_motifs)
    if seen == "" and must_ask:
        motifs: list[Motif] = []
    elif seen == "yes":
        motifs = [m for m in all_motifs if m.audience in (Audience.ALL, Audience.RETURNING)]
    elif doc.accepts_new_patients:
        motifs = [m for m in all_motifs if m.audience in (Audience.ALL, Audience.NEW)]
    else:
        motifs = []
    tz = sites[0].tz if sites else zoneinfo.ZoneInfo(settings.CRENEAU_DEFAULT_TIME_ZONE)
    today = clock.now().astimezone(tz).date()
    monday = monday_of(parse_day(request.GET.get("week"), today))
    this_monday = monday_of(today)
    if monday < this_monday:
        monday = this_monday
    motif = motifs[0] if motifs else None
    if request.GET.get("motif") and all_motifs:
        wanted = parse_id(request.GET["motif"])
        if not any(m.pk == wanted for m in all_motifs):
            raise NotFound(_("Unknown visit reason."))
        motif = next((m for m in motifs if m.pk == wanted), motif)
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
        "all_motifs": all_motifs,
        "listed_motifs": listed,
        "photo": PractitionerPhoto.objects.filter(practitioner=doc).only("pk", "updated_at").first(),
        "payment_methods": [PaymentMethod(m).label for m in doc.payment_methods if m in PaymentMethod.values],
        "motif": motif,
        "seen": seen,
        "must_ask": must_ask,
        "seen_param": f"&seen={seen}" if seen and must_ask else "",
        "calendar": calendar,
        "monday": monday,
        "sunday": monday + dt.timedelta(days=6),
        "prev_week": monday - dt.timedelta(days=7) if monday > this_monday else None,
        "next_week": monday + dt.timedelta(days=7) if monday + dt.timedelta(days=7) <= horizon else None,
        "has_slots": any(slots for _day, slots in calendar),
        "tz": tz,
    }
    return render(request, "web/practitioner.html", context)
