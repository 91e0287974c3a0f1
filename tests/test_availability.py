"""Free slots as a patient sees them, and the next-availability index that search pages read."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from creneau.booking import services
from creneau.booking.services import SlotRef
from creneau.core import clock
from creneau.scheduling import selectors
from creneau.scheduling import services as scheduling
from creneau.scheduling.models import AvailabilityIndex

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db


def local_times(slots: list) -> list[str]:
    return [s.start.astimezone(f.PARIS).strftime("%d %H:%M") for s in slots]


def test_free_slots_skip_booked_times(world: World) -> None:
    services.appointment_book(
        actor=world.patient_actor,
        patient_id=world.patient.pk,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 2, 10, 0)),
    )
    slots = selectors.free_slots(
        practitioner_id=world.doc.pk,
        motif_id=world.motif.pk,
        start=f.paris(2026, 3, 2, 0),
        end=f.paris(2026, 3, 3, 0),
    )
    assert local_times(slots) == ["02 09:00", "02 09:30", "02 10:30", "02 11:00", "02 11:30"]


def test_free_slots_respect_min_notice(world: World) -> None:
    world.motif.min_notice_minutes = 150  # now is 07:00: nothing before 09:30
    world.motif.save()
    slots = selectors.free_slots(
        practitioner_id=world.doc.pk,
        motif_id=world.motif.pk,
        start=f.paris(2026, 3, 2, 0),
        end=f.paris(2026, 3, 3, 0),
    )
    assert local_times(slots)[0] == "02 09:30"


def test_rule_validity_period_is_honoured(db: None, monday_morning: None) -> None:
    org = f.organization()
    s = f.site(org)
    doc = f.practitioner(s)
    f.weekly_rule(doc, s, weekday=1, valid_from=dt.date(2026, 3, 10), valid_until=dt.date(2026, 3, 17))
    m = f.motif(doc, minutes=60)
    slots = selectors.free_slots(
        practitioner_id=doc.pk, motif_id=m.pk, start=f.paris(2026, 3, 2), end=f.paris(2026, 3, 31)
    )
    assert sorted({s.start.astimezone(f.PARIS).date().isoformat() for s in slots}) == ["2026-03-10", "2026-03-17"]


def test_motif_restricted_rules_only_offer_that_motif(world: World) -> None:
    video = f.motif(world.doc, minutes=15, name="Vidéo")
    rule = f.weekly_rule(world.doc, world.site, weekday=0, start="18:00", end="19:00")
    rule.motifs.set([video])
    evening = (f.paris(2026, 3, 2, 17), f.paris(2026, 3, 2, 20))
    assert (
        selectors.free_slots(practitioner_id=world.doc.pk, motif_id=world.motif.pk, start=evening[0], end=evening[1])
        == []
    )
    assert (
        len(selectors.free_slots(practitioner_id=world.doc.pk, motif_id=video.pk, start=evening[0], end=evening[1]))
        == 4
    )


def test_index_follows_bookings_and_cancellations(
    world: World, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    scheduling.availability_refresh(practitioner_ids=[world.doc.pk])
    first = selectors.next_availabilities(practitioner_ids=[world.doc.pk])[world.doc.pk]
    assert first.next_start == f.paris(2026, 3, 2, 9, 0)
    with django_capture_on_commit_callbacks(execute=True):
        appt = services.appointment_book(
            actor=world.patient_actor,
            patient_id=world.patient.pk,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, first.next_start),
        )
    after = selectors.next_availabilities(practitioner_ids=[world.doc.pk])[world.doc.pk]
    assert after.next_start == f.paris(2026, 3, 2, 9, 30)
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(actor=world.secretary, appointment_id=appt.pk)
    again = selectors.next_availabilities(practitioner_ids=[world.doc.pk])[world.doc.pk]
    assert again.next_start == f.paris(2026, 3, 2, 9, 0)


def test_index_never_shows_a_start_that_has_passed(world: World) -> None:
    scheduling.availability_refresh(practitioner_ids=[world.doc.pk])
    with clock.frozen_at(f.paris(2026, 3, 2, 10, 5)):
        nxt = selectors.next_availabilities(practitioner_ids=[world.doc.pk])[world.doc.pk]
    assert nxt.next_start == f.paris(2026, 3, 2, 10, 30)


def test_next_availabilities_for_fifty_practitioners_is_one_query(db: None, monday_morning: None) -> None:
    org = f.organization()
    s = f.site(org)
    doctors = []
    for i in range(50):
        d = f.practitioner(s)
        f.weekly_rule(d, s, weekday=(i % 5), start="09:00", end="10:00")
        f.motif(d, minutes=20)
        doctors.append(d)
    scheduling.availability_refresh(practitioner_ids=[d.pk for d in doctors])
    with CaptureQueriesContext(connection) as ctx:
        result = selectors.next_availabilities(practitioner_ids=[d.pk for d in doctors])
    assert len(ctx.captured_queries) == 1
    assert len(result) == 50
    order = selectors.practitioners_by_next_availability(practitioner_ids=[d.pk for d in doctors])
    # Monday's doctors (i % 5 == 0) come first, Friday's last.
    assert (order[0] == doctors[0].pk and order[-1] == doctors[4].pk) or order[-1] in {d.pk for d in doctors[4::5]}


def test_index_refresh_for_many_practitioners_uses_a_fixed_number_of_queries(db: None, monday_morning: None) -> None:
    org = f.organization()
    s = f.site(org)
    doctors = [f.practitioner(s) for _ in range(3)]
    for d in doctors:
        f.every_day(d, s)
        f.motif(d)
    with CaptureQueriesContext(connection) as small:
        scheduling.availability_refresh(practitioner_ids=[doctors[0].pk])
    with CaptureQueriesContext(connection) as large:
        scheduling.availability_refresh(practitioner_ids=[d.pk for d in doctors])
    assert len(large.captured_queries) == len(small.captured_queries)
    assert AvailabilityIndex.objects.count() == 3


def test_new_patient_search_ignores_returning_only_motifs(world: World) -> None:
    world.motif.audience = "returning"
    world.motif.save()
    scheduling.availability_refresh(practitioner_ids=[world.doc.pk])
    assert selectors.next_availabilities(practitioner_ids=[world.doc.pk], new_patient=True) == {}
    assert world.doc.pk in selectors.next_availabilities(practitioner_ids=[world.doc.pk], new_patient=False)
