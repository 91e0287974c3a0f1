"""After a booking or a hold, the availability index drops exactly the starts that time now blocks
(for every motif, counting its duration and buffer) without recomputing the agenda: what search pages
show is what a full recomputation would show (up to the number of starts a row keeps)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from creneau.booking.services import SlotRef, appointment_book, appointment_cancel, slot_hold
from creneau.scheduling.models import AvailabilityIndex
from creneau.scheduling.services import availability_refresh, availability_taken

from . import factories as f
from .personas import World


def index_of(practitioner_id: Any) -> dict[Any, list[str]]:
    return {
        row.motif_id: list(row.starts)
        for row in AvailabilityIndex.objects.filter(practitioner_id=practitioner_id).order_by("motif_id")
    }


def test_a_booking_removes_exactly_what_a_full_recomputation_removes(
    world: World,
    django_capture_on_commit_callbacks: Any,
) -> None:
    doc, site, short = world.doc, world.site, world.motif
    long = f.motif(doc, minutes=60, buffer=15, name="Long")
    availability_refresh(practitioner_ids=[doc.pk])
    before = index_of(doc.pk)
    start = f.paris(2026, 3, 3, 10, 0)
    with django_capture_on_commit_callbacks(execute=True):
        appointment_book(
            actor=world.secretary, slot=SlotRef(doc.pk, short.pk, site.pk, start), patient_id=world.caller.pk
        )
    after = index_of(doc.pk)
    booked = start.astimezone(dt.UTC).isoformat()
    assert booked in before[short.pk] and booked not in after[short.pk]
    # The 60+15-minute motif can no longer start from 08:45 to 10:15 (its slots would meet 10:00–10:30).
    assert f.paris(2026, 3, 3, 9, 0).astimezone(dt.UTC).isoformat() not in after[long.pk]
    assert f.paris(2026, 3, 3, 9, 0).astimezone(dt.UTC).isoformat() in before[long.pk]
    assert f.paris(2026, 3, 3, 10, 30).astimezone(dt.UTC).isoformat() in after[short.pk]
    # Same as a full recomputation, up to the cap of starts kept per row (a capped row is one start short
    # until the next refresh).
    availability_refresh(practitioner_ids=[doc.pk])
    full = index_of(doc.pk)
    assert set(full) == set(after)
    for motif_id, starts in after.items():
        assert starts == full[motif_id][: len(starts)]
        assert len(starts) >= len(full[motif_id]) - 1


def test_a_hold_takes_its_slot_out_of_the_index_and_a_cancellation_gives_time_back(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    doc, site, motif = world.doc, world.site, world.motif
    availability_refresh(practitioner_ids=[doc.pk])
    start = f.paris(2026, 3, 4, 9, 30)
    iso = start.astimezone(dt.UTC).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        slot_hold(actor=world.patient_actor, slot=SlotRef(doc.pk, motif.pk, site.pk, start))
    assert iso not in index_of(doc.pk)[motif.pk]
    other = f.paris(2026, 3, 4, 11, 0)
    with django_capture_on_commit_callbacks(execute=True):
        booked = appointment_book(
            actor=world.secretary, slot=SlotRef(doc.pk, motif.pk, site.pk, other), patient_id=world.caller.pk
        )
    assert other.astimezone(dt.UTC).isoformat() not in index_of(doc.pk)[motif.pk]
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(actor=world.secretary, appointment_id=booked.pk)
    assert other.astimezone(dt.UTC).isoformat() in index_of(doc.pk)[motif.pk]


def test_updating_the_index_after_a_booking_takes_a_fixed_number_of_queries(world: World) -> None:
    doc = world.doc
    for minutes in (15, 20, 45):
        f.motif(doc, minutes=minutes, name=f"M{minutes}")
    availability_refresh(practitioner_ids=[doc.pk])
    start = f.paris(2026, 3, 5, 9, 0).astimezone(dt.UTC)
    with CaptureQueriesContext(connection) as queries:
        changed = availability_taken(practitioner_id=doc.pk, start=start, busy_until=start + dt.timedelta(minutes=30))
    assert changed == 4
    # The practitioner's index lock (concurrent writers wait for each other), one read, one write.
    assert len([q for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]) <= 3
