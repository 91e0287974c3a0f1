"""2. Next free slots of the 50 dermatologists of Lyon over 4 weeks, as the search page gets them,
at growing appointment counts. Reported: the page's availability query (the maintained index), the
whole search (practitioners near the place + index + motifs of the page shown), the same availability
computed live from the agendas (what the index saves), and the write-time cost of refreshing one
practitioner's index; and the scale query: the 500 general practitioners of one city sorted by earliest
availability."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .data import SCALE_CITY, SCALE_SPECIALTY, SPECIALTY, World
from .timing import measure


def live_four_weeks(practitioner_ids: list[Any]) -> int:
    from creneau.core import clock
    from creneau.scheduling import selectors
    from creneau.scheduling.models import Motif

    now = clock.now()
    end = now + dt.timedelta(days=28)
    motifs = list(Motif.objects.filter(practitioner_id__in=practitioner_ids, is_active=True, bookable_online=True))
    rules = selectors.rule_specs(practitioner_ids)
    busy = selectors.busy_intervals(practitioner_ids, start=now, end=end + dt.timedelta(hours=12))
    tzs = selectors.site_time_zones({r.site_id for rs in rules.values() for r in rs if r.site_id})
    found = 0
    for m in motifs:
        found += len(
            selectors.compute_slots(
                motif=m,
                rules=rules.get(m.practitioner_id, []),
                busy=busy.get(m.practitioner_id, []),
                tzs=tzs,
                start=now,
                end=end,
                now=now,
            )
        )
    return found


def run(w: World, *, quick: bool = False) -> dict[str, Any]:
    from creneau.directory.models import Specialty
    from creneau.scheduling.selectors import next_availabilities
    from creneau.scheduling.services import availability_refresh
    from creneau.web import places, search

    ids = w.search_ids
    specialty = Specialty.objects.get(code=SPECIALTY)
    lyon = places.find_place("Lyon")
    assert lyon is not None

    def index_query() -> None:
        got = next_availabilities(practitioner_ids=ids, per_practitioner=60)
        assert len(got) == len(ids), len(got)

    def search_page() -> None:
        results = search.search(specialty=specialty, place=lyon)
        assert len(results) >= len(ids)
        search.decorate(results[:10])

    scale_specialty = Specialty.objects.get(code=SCALE_SPECIALTY)
    city = places.find_place(SCALE_CITY)
    assert city is not None

    def scale_search() -> None:
        # Every practitioner of the specialty in the city, the soonest available first (the search's order).
        results = search.search(specialty=scale_specialty, place=city)
        assert len(results) >= len(w.scale_ids), len(results)

    refresh_target = iter(ids * 100)
    out = {
        "index_query": measure(index_query, n=60 if quick else 200),
        "search_queries": measure(search_page, n=30 if quick else 100),
        "scale_search": measure(scale_search, n=30 if quick else 100),
        "scale_practitioners": len(w.scale_ids),
        "live_compute": measure(lambda: live_four_weeks(ids), n=5 if quick else 15, warmup=1),
        "index_refresh_one": measure(lambda: availability_refresh(practitioner_ids=[next(refresh_target)]), n=20),
        "free_slots_found": live_four_weeks(ids),
    }
    return out
