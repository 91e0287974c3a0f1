"""My account after moves: a move is shown as a move (not as a cancellation), and the move calendar
only offers times that leave the new appointment changeable online."""

from __future__ import annotations

import re

import pytest

from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef

from . import factories as f
from .personas import World
from .web_support import signed_in, stamp

pytestmark = pytest.mark.django_db


def book(w: World, start: object) -> Appointment:
    return services.appointment_book(
        actor=w.patient_actor,
        slot=SlotRef(w.doc.pk, w.motif.pk, w.site.pk, start),  # type: ignore[arg-type]
        patient_id=w.patient.pk,
    )


def _section(html: str, title_id: str) -> str:
    start = html.find(f'id="{title_id}"')
    return "" if start < 0 else html[start : html.find("</section>", start)]


def test_two_moves_and_one_cancel_show_one_cancellation(world: World) -> None:
    first = book(world, f.paris(2026, 3, 4, 9, 0))
    moved = services.appointment_reschedule(
        actor=world.patient_actor, appointment_id=first.pk, new_start=f.paris(2026, 3, 4, 10, 0)
    )
    services.appointment_reschedule(
        actor=world.patient_actor, appointment_id=moved.pk, new_start=f.paris(2026, 3, 4, 11, 0)
    )
    other = book(world, f.paris(2026, 3, 5, 9, 0))
    services.appointment_cancel(actor=world.patient_actor, appointment_id=other.pk)
    html = signed_in(world.user).get("/en/account/").content.decode()
    cancelled = _section(html, "cancelled-title")
    assert cancelled.count("<tr>") == 2  # the header row and the one real cancellation
    upcoming = _section(html, "upcoming-title")
    assert "11:00" in upcoming and "moved from Wed 4 Mar 10:00" in upcoming


def test_move_calendar_leaves_out_times_inside_the_cancellation_deadline(world: World) -> None:
    # Monday 07:00; deadline 4 hours: 09:00, 10:00 and 10:30 today are too close, 11:00 is fine.
    appt = book(world, f.paris(2026, 3, 4, 9, 0))
    html = signed_in(world.user).get(f"/en/account/appointments/{appt.pk}/move/").content.decode()
    offered = set(re.findall(r"start=(\d{8}T\d{4}Z)", html))
    assert stamp(f.paris(2026, 3, 2, 10, 30)) not in offered
    assert stamp(f.paris(2026, 3, 2, 11, 0)) in offered
    assert "Times less than 4 hours away are not offered" in html


def test_moving_to_a_time_inside_the_deadline_is_refused_and_keeps_the_appointment(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 4, 9, 0))
    client = signed_in(world.user)
    url = f"/en/account/appointments/{appt.pk}/move/"
    picked = client.get(url, {"start": stamp(f.paris(2026, 3, 2, 9, 30))})
    assert "Choose a time at least 4 hours from now" in picked.content.decode()
    posted = client.post(url, {"start": stamp(f.paris(2026, 3, 2, 9, 30))})
    assert posted.status_code == 422
    appt.refresh_from_db()
    assert appt.status == Status.BOOKED and not Appointment.objects.filter(rescheduled_from=appt).exists()


def test_no_move_calendar_once_the_deadline_has_passed(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 2, 10, 0))  # in 3 hours
    html = signed_in(world.user).get(f"/en/account/appointments/{appt.pk}/move/").content.decode()
    assert "please call the practice" in html and "start=" not in html
