"""Patient search: practitioners of a specialty (or by name) near a place, with filters, sorted by
earliest availability or distance.

A fixed number of queries whatever the number of results: specialty, practitioner×site pairs in the
bounding box, the availability index (one query for all, two for a signed-in patient who already
saw some of them), the motifs shown on the page.

Only slots a patient may book are shown: for a practitioner the patient has not seen yet, motifs open
to new patients, and nothing at all when the practitioner takes no new patients."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
import zoneinfo
from collections.abc import Collection

from django.conf import settings
from django.db.models import Q
from django.utils import dateformat
from django.utils.translation import gettext as _

from creneau.core import clock
from creneau.directory import vocabulary
from creneau.directory.models import Practitioner, PractitionerSite, Site, Specialty
from creneau.scheduling.models import Motif, VisitChannel
from creneau.scheduling.selectors import NextAvailability, next_availabilities

from .places import Place, bounding_box, haversine_km

DEFAULT_RADIUS_KM = 25.0
RADIUS_CHOICES = (2, 5, 10, 25, 50, 100)
AVAILABLE_CHOICES = ("", "today", "3days", "week")
SORT_CHOICES = ("soonest", "distance")
NAME_RESULTS_MAX = 50


@dataclasses.dataclass
class Filters:
    video: bool = False
    language: str = ""
    sector: str = ""
    new_patients: bool = False
    available: str = ""  # "", "today", "3days", "week"
    radius_km: float = DEFAULT_RADIUS_KM
    sort: str = "soonest"


@dataclasses.dataclass(frozen=True)
class SlotLink:
    """One offered start, ready for the page: no per-slot work left to the template."""

    time: str  # "08:30", local to the slot's site
    label: str  # "Book Monday 2 March 08:30" (translated), for screen readers
    query: str  # the booking page's query string


@dataclasses.dataclass
class Result:
    practitioner: Practitioner
    site: Site
    distance_km: float | None
    availability: NextAvailability | None = None
    motif: Motif | None = None
    # The patient (or someone on their account) has already seen this practitioner.
    known: bool = False
    # Not seen yet and the practitioner takes no new patients: no slot is offered.
    closed_to_new: bool = False
    # Availability grouped by local day: [(date, [slot, ...]), ...]
    days: list[tuple[dt.date, list[SlotLink]]] = dataclasses.field(default_factory=list)
    number: int = 0  # position on the page, shared with the map marker

    @property
    def next_start(self) -> dt.datetime | None:
        return self.availability.next_start if self.availability else None


def find_specialty(query: str) -> Specialty | None:
    """A specialty from what a patient typed: everyday names, labels, slugs, codes, one typo."""
    understood = vocabulary.understand(query)
    if understood.code is None:
        return None
    return Specialty.objects.filter(code=understood.code).first()


def available_until(available: str, *, tz: zoneinfo.ZoneInfo | None = None) -> dt.datetime | None:
    """End of 'today', 'within 3 days' or 'this week' (7 days), at local midnight."""
    if not available:
        return None
    tz = tz or zoneinfo.ZoneInfo(settings.CRENEAU_DEFAULT_TIME_ZONE)
    today = clock.now().astimezone(tz).date()
    days = {"today": 1, "3days": 3, "week": 7}[available]
    return dt.datetime.combine(today + dt.timedelta(days=days), dt.time(0), tzinfo=tz)


def _keep(p: Practitioner, filters: Filters) -> bool:
    if filters.language and filters.language not in (p.languages or []):
        return False
    if filters.sector and p.convention_sector != filters.sector:
        return False
    return not (filters.new_patients and not p.accepts_new_patients)


def _links(
    specialty: Specialty | None, name_query: str, place: Place | None, radius_km: float
) -> list[PractitionerSite]:
    qs = PractitionerSite.objects.filter(practitioner__is_active=True).select_related("practitioner__specialty", "site")
    if specialty is not None:
        qs = qs.filter(practitioner__specialty=specialty)
    if name_query:
        words = vocabulary.fold(name_query).split()
        by_name = Q()
        for word in words:
            by_name &= Q(practitioner__name_key__contains=word)
        qs = qs.filter(
            by_name | Q(site__name__icontains=name_query) | Q(site__organization__name__icontains=name_query)
        )
    if place is not None:
        min_lat, max_lat, min_lon, max_lon = bounding_box(place.latitude, place.longitude, radius_km)
        qs = qs.filter(site__latitude__range=(min_lat, max_lat), site__longitude__range=(min_lon, max_lon))
    else:
        qs = qs.order_by("practitioner__family_name", "practitioner_id")[: NAME_RESULTS_MAX * 3]
    return list(qs)


def search(
    *,
    specialty: Specialty | None = None,
    name_query: str = "",
    place: Place | None,
    filters: Filters | None = None,
    radius_km: float | None = None,
    known_practitioners: Collection[uuid.UUID] = (),
) -> list[Result]:
    """Every matching practitioner (nearest site each), soonest availability (or nearest) first."""
    filters = filters or Filters()
    radius = radius_km if radius_km is not None else filters.radius_km
    best: dict[uuid.UUID, Result] = {}
    nearby: dict[uuid.UUID, dict[uuid.UUID, tuple[Site, float | None]]] = {}
    for link in _links(specialty, name_query, place, radius):
        if not _keep(link.practitioner, filters):
            continue
        d: float | None = None
        if place is not None:
            d = haversine_km(place.latitude, place.longitude, link.site.latitude, link.site.longitude)
            if d > radius:
                continue
        nearby.setdefault(link.practitioner_id, {})[link.site_id] = (link.site, d)
        current = best.get(link.practitioner_id)
        if current is None or (d is not None and current.distance_km is not None and d < current.distance_km):
            best[link.practitioner_id] = Result(practitioner=link.practitioner, site=link.site, distance_km=d)
    if place is None and len(best) > NAME_RESULTS_MAX:
        best = dict(list(best.items())[:NAME_RESULTS_MAX])
    if not best:
        return []
    for pid, result in best.items():
        result.known = pid in known_practitioners
        result.closed_to_new = not result.known and not result.practitioner.accepts_new_patients
    site_ids = [sid for sites in nearby.values() for sid in sites]
    until = available_until(filters.available)
    channel = VisitChannel.VIDEO if filters.video else None
    groups = (
        ([pid for pid, r in best.items() if not r.known and not r.closed_to_new], True),
        ([pid for pid, r in best.items() if r.known], False),
    )
    for ids, new_patient in groups:
        if not ids:
            continue
        found = next_availabilities(
            practitioner_ids=ids,
            site_ids=site_ids,
            per_practitioner=60,
            new_patient=new_patient,
            until=until,
            channel=channel,
        )
        for pid, availability in found.items():
            if not availability.starts:
                continue
            result = best[pid]
            result.availability = availability
            # Show the site where that availability is (one of the nearby ones).
            result.site, result.distance_km = nearby[pid].get(availability.site_id, (result.site, result.distance_km))
    results = list(best.values())
    if until is not None or filters.video:
        results = [r for r in results if r.availability is not None]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    if filters.sort == "distance" and place is not None:
        return sorted(results, key=lambda r: (r.distance_km or 0.0, r.next_start or far))
    return sorted(results, key=lambda r: (r.next_start or far, r.distance_km or 0.0))


def decorate(results: list[Result], *, days: int = 3, per_day: int = 4, first_number: int = 1) -> None:
    """For the page shown: the motif of each next availability (one query), its first starts
    grouped by local day at the slot's site, each with its time, label and booking link, and the
    number shared by the list and the map."""
    motif_ids = {r.availability.motif_id for r in results if r.availability}
    motifs = {m.pk: m for m in Motif.objects.filter(pk__in=motif_ids)} if motif_ids else {}
    for i, r in enumerate(results):
        r.number = first_number + i
        if not r.availability:
            continue
        r.motif = motifs.get(r.availability.motif_id)
        tz = r.site.tz
        common = f"practitioner={r.practitioner.pk}&motif={r.availability.motif_id}&site={r.availability.site_id}"
        grouped: dict[dt.date, list[SlotLink]] = {}
        for start in r.availability.starts:
            local = start.astimezone(tz)
            if local.date() not in grouped and len(grouped) >= days:
                break
            bucket = grouped.setdefault(local.date(), [])
            if len(bucket) < per_day:
                when = dateformat.format(local, "l j F H:i")
                bucket.append(
                    SlotLink(
                        time=f"{local:%H:%M}",
                        label=_("Book %(when)s") % {"when": when},
                        query=f"{common}&start={start.astimezone(dt.UTC):%Y%m%dT%H%MZ}",
                    )
                )
        r.days = list(grouped.items())


def map_points(results: list[Result]) -> list[dict[str, object]]:
    """Markers of the results shown, numbered like the list (public directory data only)."""
    return [
        {
            "n": r.number,
            "lat": round(r.site.latitude, 5),
            "lon": round(r.site.longitude, 5),
            "name": r.practitioner.display_name,
            "place": f"{r.site.address}, {r.site.postcode} {r.site.city}",
            "id": str(r.practitioner.pk),
        }
        for r in results
    ]
