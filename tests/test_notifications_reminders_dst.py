"""Reminders are real hours before the appointment's UTC start, shown in the site's local time, and
stay right across daylight-saving changes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

import pytest
from django.core import mail

from creneau.core import clock
from creneau.notifications import outbox
from creneau.notifications.models import Kind, MessageChannel

from . import factories as f
from .notif_support import book, pending
from .personas import World

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture
def far_horizon(world: World) -> World:
    world.motif.max_horizon_days = 365
    world.motif.save()
    return world


def reminder_times(appointment_id: object) -> set[dt.datetime]:
    return {m.send_after for m in pending(appointment_id=appointment_id, kind=Kind.REMINDER)}


def test_spring_forward_keeps_48_real_hours_and_the_wall_clock_time_in_the_text(far_horizon: World) -> None:
    # Clocks go forward on Sunday 29 March 2026; Monday 10:00 is 08:00 UTC (CEST).
    appt = book(far_horizon, f.paris(2026, 3, 30, 10, 0))
    assert appt.start_at == dt.datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert reminder_times(appt.pk) == {
        dt.datetime(2026, 3, 28, 8, 0, tzinfo=UTC),  # Saturday 09:00 in Paris (still CET): 48 real hours
        dt.datetime(2026, 3, 30, 6, 0, tzinfo=UTC),  # Monday 08:00 in Paris (CEST)
    }
    with clock.frozen_at(dt.datetime(2026, 3, 28, 8, 0, tzinfo=UTC)):
        outbox.deliver_due()
    reminder = [m for m in mail.outbox if m.subject.startswith("Rappel")]
    assert len(reminder) == 1
    assert reminder[0].subject == "Rappel : rendez-vous le 30/03/2026 à 10:00"


def test_fall_back_keeps_48_real_hours(far_horizon: World) -> None:
    # Clocks go back on Sunday 25 October 2026; Monday 10:00 is 09:00 UTC (CET).
    appt = book(far_horizon, f.paris(2026, 10, 26, 10, 0))
    assert reminder_times(appt.pk) == {
        dt.datetime(2026, 10, 24, 9, 0, tzinfo=UTC),  # Saturday 11:00 in Paris (CEST)
        dt.datetime(2026, 10, 26, 7, 0, tzinfo=UTC),
    }
    with clock.frozen_at(dt.datetime(2026, 10, 26, 7, 0, tzinfo=UTC)):
        outbox.deliver_due()
    assert "lundi 26 octobre 2026 à 10:00" in mail.outbox[-1].body.lower()


def test_times_are_shown_in_the_site_time_zone(world: World) -> None:
    org = f.organization("Cabinet Antilles")
    site = f.site(org, city="Pointe-à-Pitre", postcode="97110", time_zone="America/Guadeloupe")
    doc = f.practitioner(site)
    f.every_day(doc, site)
    motif = f.motif(doc)
    world = dataclasses.replace(world, site=site, doc=doc, motif=motif)
    start = dt.datetime(2026, 3, 3, 9, 0, tzinfo=zoneinfo.ZoneInfo("America/Guadeloupe"))
    appt = book(world, start)
    assert reminder_times(appt.pk) == {appt.start_at - dt.timedelta(hours=2)}  # 48 h before is already past
    outbox.deliver_due()
    (email,) = mail.outbox
    assert email.subject == "Rendez-vous confirmé le 03/03/2026 à 09:00"  # 14:00 in Paris, 13:00 UTC
    assert "mardi 3 mars 2026 à 09:00" in email.body.lower()
    assert not pending(kind=Kind.BOOKING_CONFIRMATION, channel=MessageChannel.SMS)  # sent too
