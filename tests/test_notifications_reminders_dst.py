"""Reminders leave at the appointment's wall-clock time so many calendar days before, in the site's
time zone (e-mails 7 days and 1 day before; the SMS 2 days before when booked more than 7 days ahead,
else the day before): across a daylight-saving change that is 23, 25, 47 or 49 real hours, and the
text shows the local time."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

import pytest
from django.core import mail

from creneau.core import clock
from creneau.notifications import outbox
from creneau.notifications.models import Kind, MessageChannel
from creneau.notifications.services import days_before

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


def plan(appointment_id: object) -> set[tuple[str, dt.datetime]]:
    return {(m.channel, m.send_after) for m in pending(appointment_id=appointment_id, kind=Kind.REMINDER)}


def test_spring_forward_keeps_the_wall_clock_time_so_the_sms_leaves_47_real_hours_before(far_horizon: World) -> None:
    # Clocks go forward on Sunday 29 March 2026 (02:00 → 03:00); Monday 10:00 is 08:00 UTC (CEST).
    appt = book(far_horizon, f.paris(2026, 3, 30, 10, 0))  # booked 28 days ahead: SMS 2 days before
    assert appt.start_at == dt.datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert plan(appt.pk) == {
        (MessageChannel.EMAIL, dt.datetime(2026, 3, 23, 9, 0, tzinfo=UTC)),  # Monday 23, 10:00 CET
        (MessageChannel.EMAIL, dt.datetime(2026, 3, 29, 8, 0, tzinfo=UTC)),  # Sunday 29, 10:00 CEST
        (MessageChannel.SMS, dt.datetime(2026, 3, 28, 9, 0, tzinfo=UTC)),  # Saturday 28, 10:00 CET: 47 h
    }
    with clock.frozen_at(dt.datetime(2026, 3, 29, 8, 0, tzinfo=UTC)):
        outbox.deliver_due()
    reminder = [m for m in mail.outbox if m.subject.startswith("Rappel")]
    assert len(reminder) == 2  # the 7-day and the day-before e-mails
    assert reminder[-1].subject == "Rappel : rendez-vous le 30/03/2026 à 10:00"


def test_the_day_before_a_spring_forward_sunday_is_23_real_hours(far_horizon: World) -> None:
    appt = book(far_horizon, f.paris(2026, 3, 29, 10, 0))  # Sunday 10:00 CEST = 08:00 UTC
    day_before = {at for channel, at in plan(appt.pk) if channel == MessageChannel.EMAIL and at > f.paris(2026, 3, 25)}
    assert day_before == {dt.datetime(2026, 3, 28, 9, 0, tzinfo=UTC)}  # Saturday 10:00 CET
    assert appt.start_at - dt.datetime(2026, 3, 28, 9, 0, tzinfo=UTC) == dt.timedelta(hours=23)


def test_fall_back_keeps_the_wall_clock_time_so_the_sms_leaves_49_real_hours_before(far_horizon: World) -> None:
    # Clocks go back on Sunday 25 October 2026 (03:00 → 02:00); Monday 10:00 is 09:00 UTC (CET).
    appt = book(far_horizon, f.paris(2026, 10, 26, 10, 0))
    assert plan(appt.pk) == {
        (MessageChannel.EMAIL, dt.datetime(2026, 10, 19, 8, 0, tzinfo=UTC)),  # Monday 19, 10:00 CEST
        (MessageChannel.EMAIL, dt.datetime(2026, 10, 25, 9, 0, tzinfo=UTC)),  # Sunday 25, 10:00 CET
        (MessageChannel.SMS, dt.datetime(2026, 10, 24, 8, 0, tzinfo=UTC)),  # Saturday 24, 10:00 CEST: 49 h
    }
    with clock.frozen_at(dt.datetime(2026, 10, 25, 9, 0, tzinfo=UTC)):
        outbox.deliver_due()
    assert "lundi 26 octobre 2026 à 10:00" in mail.outbox[-1].body.lower()


def test_a_wall_clock_time_in_the_spring_forward_gap_is_taken_as_the_clocks_show_it() -> None:
    paris = "Europe/Paris"
    start = f.paris(2026, 3, 30, 2, 30)  # Monday 02:30 CEST; Sunday 02:30 does not exist
    assert days_before(start, 1, paris) == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # Sunday 03:30 CEST
    fall = f.paris(2026, 10, 26, 2, 30)  # Sunday 02:30 happens twice: the first (CEST) is taken
    assert days_before(fall, 1, paris) == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_booked_less_than_7_days_ahead_the_sms_leaves_the_day_before(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 6, 10, 0))  # Friday, booked on Monday
    assert plan(appt.pk) == {
        (MessageChannel.EMAIL, dt.datetime(2026, 3, 5, 9, 0, tzinfo=UTC)),  # Thursday 10:00; 7 days: past
        (MessageChannel.SMS, dt.datetime(2026, 3, 5, 9, 0, tzinfo=UTC)),
    }


def test_times_are_shown_in_the_site_time_zone(world: World) -> None:
    org = f.organization("Cabinet Antilles")
    site = f.site(org, city="Pointe-à-Pitre", postcode="97110", time_zone="America/Guadeloupe")
    doc = f.practitioner(site)
    f.every_day(doc, site)
    motif = f.motif(doc)
    world = dataclasses.replace(world, site=site, doc=doc, motif=motif)
    start = dt.datetime(2026, 3, 3, 9, 0, tzinfo=zoneinfo.ZoneInfo("America/Guadeloupe"))
    appt = book(world, start)
    # Booked on Monday 2 March 06:00 UTC: only the day-before reminders (Monday 09:00 in Guadeloupe).
    assert reminder_times(appt.pk) == {dt.datetime(2026, 3, 2, 13, 0, tzinfo=UTC)}
    outbox.deliver_due()
    (email,) = [m for m in mail.outbox if not m.subject.startswith("Rappel")]
    assert email.subject == "Rendez-vous confirmé le 03/03/2026 à 09:00"  # 14:00 in Paris, 13:00 UTC
    assert "mardi 3 mars 2026 à 09:00" in email.body.lower()
    assert not pending(kind=Kind.BOOKING_CONFIRMATION, channel=MessageChannel.SMS)  # sent too
