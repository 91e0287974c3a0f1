"""Patient search: practitioners of a specialty near a place, sorted by earliest availability.

A fixed number of queries whatever the number of results: specialty, practitioner×site pairs in the
bounding box, the availability index (one query for all), the motifs shown on the page."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from django.db.models import Q

from creneau.directory.models import Practitioner, PractitionerSite, Site, Specialty
from creneau.scheduling.models import Motif
from creneau.scheduling.selectors import NextAvailability, next_availabilities

from .places import Place, bounding_box, haversine_km

DEFAULT_RADIUS_KM = 25.0


@dataclasses.dataclass
class Result:
    practitioner: Practitioner
    site: Site
    distance_km: float
    availability: NextAvailability | None = None
    motif: Motif | None = None
    # Availability grouped by local day: [(date, [start, ...]), ...]
    days: list[tuple[dt.date, list[dt.datetime]]] = dataclasses.field(default_factory=list)

    @property
    def next_start(self) -> dt.datetime | None:
        return self.availability.next_start if self.availability else None


def find_specialty(query: str) -> Specialty | None:
    """A specialty from its label (either language), slug or code, as typed or suggested."""
    q = query.strip()
    if not q:
        return None
    return (
        Specialty.objects.filter(
            Q(label_fr__iexact=q) | Q(label_en__iexact=q) | Q(slug__iexact=q) | Q(code__iexact=q)
        ).first()
        or Specialty.objects.filter(Q(label_fr__icontains=q) | Q(label_en__icontains=q)).first()
    )


def search(*, specialty: Specialty, place: Place, radius_km: float = DEFAULT_RADIUS_KM) -> list[Result]:
    """Every matching practitioner (nearest site each), soonest availability first, then nearest."""
    min_lat, max_lat, min_lon, max_lon = bounding_box(place.latitude, place.longitude, radius_km)
    links = PractitionerSite.objects.filter(
        practitioner__specialty=specialty,
        practitioner__is_active=True,
        site__latitude__range=(min_lat, max_lat),
        site__longitude__range=(min_lon, max_lon),
    ).select_related("practitioner__specialty", "site")
    best: dict[uuid.UUID, Result] = {}
    nearby: dict[uuid.UUID, dict[uuid.UUID, tuple[Site, float]]] = {}
    for link in links:
        d = haversine_km(place.latitude, place.longitude, link.site.latitude, link.site.longitude)
        if d > radius_km:
            continue
        nearby.setdefault(link.practitioner_id, {})[link.site_id] = (link.site, d)
        current = best.get(link.practitioner_id)
        if current is None or d < current.distance_km:
            best[link.practitioner_id] = Result(practitioner=link.practitioner, site=link.site, distance_km=d)
    if not best:
        return []
    site_ids = [sid for sites in nearby.values() for sid in sites]
    for pid, availability in next_availabilities(
        practitioner_ids=list(best), site_ids=site_ids, per_practitioner=60
    ).items():
        result = best[pid]
        result.availability = availability
        # Show the site where that availability is (one of the nearby ones).
        result.site, result.distance_km = nearby[pid].get(availability.site_id, (result.site, result.distance_km))
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(best.values(), key=lambda r: (r.next_start or far, r.distance_km))


def decorate(results: list[Result], *, days: int = 3, per_day: int = 4) -> None:
    """For the page shown: the motif of each next availability (one query) and its first starts
    grouped by local day at the slot's site."""
    motif_ids = {r.availability.motif_id for r in results if r.availability}
    motifs = {m.pk: m for m in Motif.objects.filter(pk__in=motif_ids)}
    for r in results:
        if not r.availability:
            continue
        r.motif = motifs.get(r.availability.motif_id)
        tz = r.site.tz
        grouped: dict[dt.date, list[dt.datetime]] = {}
        for start in r.availability.starts:
            local = start.astimezone(tz)
            if local.date() not in grouped and len(grouped) >= days:
                break
            bucket = grouped.setdefault(local.date(), [])
            if len(bucket) < per_day:
                bucket.append(start)
        r.days = list(grouped.items())
