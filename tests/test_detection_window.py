"""The detection window: distinct patients read in the last window, whatever the principal's activity,
in one database statement per audited read on PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings

from creneau.audit.detection import detection_window_prune
from creneau.audit.models import AuditAccess, AuditEvent, DetectionAlert, DetectionWindowEntry, SuspendedPrincipal
from creneau.booking import selectors as booking_selectors
from creneau.booking.models import Appointment
from creneau.core import clock
from creneau.core.actors import Actor
from creneau.core.errors import PermissionDenied

from .personas import World
from .test_detection import _phone_bookings

pytestmark = pytest.mark.django_db


def _low_limits(settings: Settings) -> None:
    """A staff principal is stopped at its 6th distinct patient in the window (set after the bookings)."""
    settings.CRENEAU_DETECTION = {
        **settings.CRENEAU_DETECTION,
        "limits": {
            **settings.CRENEAU_DETECTION["limits"],
            "staff": {"alert_patients": 100, "suspend_patients": 6, "alert_not_found": 60, "suspend_not_found": 200},
        },
    }


def _read(actor: Actor, appts: list[Appointment]) -> int:
    """Open each appointment; returns how many the actor received before being refused."""
    got = 0
    for a in appts:
        try:
            booking_selectors.access_appointment(actor, a.pk)
        except PermissionDenied:
            break
        got += 1
    return got


def test_patients_read_before_the_window_no_longer_count(world: World, settings: Settings) -> None:
    appts = _phone_bookings(world, 10)
    _low_limits(settings)
    sec = world.secretary
    t0 = clock.now() + dt.timedelta(hours=3)
    with clock.frozen_at(t0):
        assert _read(sec, appts[:4]) == 4
    with clock.frozen_at(t0 + dt.timedelta(minutes=61)):
        assert _read(sec, appts[4:9]) == 5  # 5 in this window: under the limit of 6
    assert not SuspendedPrincipal.objects.filter(principal=sec.key).exists()


def test_rereading_the_same_patients_does_not_add_up_but_new_ones_in_the_window_do(
    world: World, settings: Settings
) -> None:
    appts = _phone_bookings(world, 10)
    _low_limits(settings)
    sec = world.secretary
    t0 = clock.now() + dt.timedelta(hours=3)
    for minute in range(0, 50, 10):  # the same four patients, again and again
        with clock.frozen_at(t0 + dt.timedelta(minutes=minute)):
            assert _read(sec, appts[:4]) == 4
    with clock.frozen_at(t0 + dt.timedelta(minutes=55)):
        # The 6th distinct patient of the window is the last one received: stopped one record past it.
        assert _read(sec, appts[4:]) == 2
    alert = DetectionAlert.objects.get(principal=sec.key, suspended=True)
    assert (alert.rule, alert.measured) == ("mass-read", 6)


def test_pruning_forgets_only_what_left_the_window(world: World, settings: Settings) -> None:
    appts = _phone_bookings(world, 10)
    _low_limits(settings)
    sec = world.secretary
    t0 = clock.now() + dt.timedelta(hours=4)  # the bookings' reads are out of both windows
    with clock.frozen_at(t0 - dt.timedelta(hours=2)):
        assert _read(sec, appts[:3]) == 3
    with clock.frozen_at(t0):
        assert _read(sec, appts[3:7]) == 4
        detection_window_prune()
        assert DetectionWindowEntry.objects.filter(principal=sec.key).count() == 4
        # The four read in this window still count: the 6th distinct patient stops the reader.
        assert _read(sec, appts[7:]) == 2
    assert SuspendedPrincipal.objects.filter(principal=sec.key).exists()
    # The trail itself is never pruned: every record received has its access row.
    assert (
        AuditAccess.objects.filter(principal=sec.key, event__action="read", appointment_id__isnull=False).count() == 9
    )
    assert DetectionWindowEntry.objects.filter(principal=sec.key).count() == 6


def test_an_audited_read_writes_its_trail_and_window_in_one_statement(world: World) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the single-statement write is PostgreSQL's; runs in the PostgreSQL pass of `make test`")
    appts = _phone_bookings(world, 3)
    sec = world.secretary
    day = appts[0].start_at.replace(hour=0, minute=0)
    with CaptureQueriesContext(connection) as audited:
        rows = booking_selectors.agenda(sec, practitioner_id=world.doc.pk, start=day, end=day + dt.timedelta(days=1))
    assert len(rows) == 3
    # The suspension check, the agenda itself, then the event + access rows + window in one statement.
    assert len(audited) == 3
    event_id = AuditAccess.objects.filter(appointment_id=rows[0].pk).latest("id").event_id
    assert set(AuditAccess.objects.filter(event_id=event_id).values_list("appointment_id", flat=True)) == {
        r.pk for r in rows
    }


def test_the_migration_seeds_the_window_from_the_trail(world: World, settings: Settings) -> None:
    """Deploying the window table mid-day loses none of the reads already in the window."""
    from django.apps import apps

    migration = importlib.import_module("creneau.audit.migrations.0003_detection_window")
    appts = _phone_bookings(world, 10)
    _low_limits(settings)
    sec = world.secretary
    with clock.frozen_at(clock.now() + dt.timedelta(hours=4)):
        assert _read(sec, appts[:4]) == 4
        DetectionWindowEntry.objects.all().delete()  # as before the migration
        migration.backfill(apps, None)
        assert _read(sec, appts[4:]) == 2
    assert SuspendedPrincipal.objects.filter(principal=sec.key).exists()


def test_a_read_from_an_unknown_address_is_recorded_without_one(world: World) -> None:
    """Behind some proxies the client address is empty: the read is still served and recorded."""
    appts = _phone_bookings(world, 1)
    sec = dataclasses.replace(world.secretary, ip="")
    assert booking_selectors.access_appointment(sec, appts[0].pk).pk == appts[0].pk
    event = AuditEvent.objects.filter(principal=sec.key, action="read").latest("id")
    assert event.ip is None
    assert event.accesses.get().appointment_id == appts[0].pk
