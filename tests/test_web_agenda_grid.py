"""The practice agenda as a time grid: what each block is, where it sits (DST days included), the group
practice's day, and moving an appointment by choosing a day and a free time."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from creneau.accounts.models import AgendaAccess
from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef, slot_hold
from creneau.core import clock
from creneau.scheduling.models import Absence

from . import factories as f
from .personas import World
from .web_support import signed_in, stamp

pytestmark = pytest.mark.django_db

BLOCK = re.compile(
    r'<li class="blk entry (?P<kind>\w+) gc-(?P<col>\d+) gs-(?P<row>\d+) gl-(?P<span>\d+)"[^>]*>\s*'
    r'<span class="time">(?P<time>[^<]+)</span>(?P<body>.*?)</li>',
    re.S,
)


def blocks(html: str) -> list[dict[str, str]]:
    return [m.groupdict() for m in BLOCK.finditer(html)]


def agenda_html(client: object, w: World, **params: str) -> str:
    response = client.get(f"/en/practice/agenda/{w.agenda.pk}/", params)  # type: ignore[attr-defined]
    assert response.status_code == 200
    return response.content.decode()


def book(w: World, start: dt.datetime) -> Appointment:
    return services.appointment_book(
        actor=w.secretary,
        slot=SlotRef(w.doc.pk, w.motif.pk, w.site.pk, start),
        patient_id=w.caller.pk,
    )


def test_week_grid_draws_booked_free_held_absent_and_closed_with_words(world: World) -> None:
    book(world, f.paris(2026, 3, 2, 9, 0))
    slot_hold(
        actor=world.patient_actor,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 2, 10, 0)),
    )
    Absence.objects.create(
        agenda=world.agenda,
        practitioner=world.doc,
        start_at=f.paris(2026, 3, 3, 9, 0),
        end_at=f.paris(2026, 3, 3, 12, 0),
        label="Congrès",
    )
    html = agenda_html(signed_in(f.user_of(world.secretary)), world)
    found = blocks(html)
    monday = [b for b in found if b["col"] == "2"]
    kinds = {(b["kind"], b["time"]) for b in monday}
    assert ("booked", "09:00–09:30") in kinds
    assert ("held", "10:00–10:30") in kinds
    assert ("free", "09:30–10:00") in kinds
    assert ("closed", "12:00–00:00") in kinds  # the afternoon, drawn closed
    booked = next(b for b in monday if b["kind"] == "booked")
    assert "APPELANT Paul" in booked["body"] and ">Move<" in booked["body"]
    held = next(b for b in monday if b["kind"] == "held")
    assert "Being booked" in held["body"] and "Alice" not in held["body"]  # no patient named
    tuesday = [b for b in found if b["col"] == "3"]
    assert [b["kind"] for b in tuesday if b["time"] == "09:00–12:00"] == ["absent"]
    assert "Congrès" in html
    # Free text, not colour only: every block says what it is.
    assert all(b["body"].strip() for b in found if b["kind"] != "closed")
    assert all("Closed" in b["body"] for b in found if b["kind"] == "closed")
    # 08:00–19:00 on 5-minute rows: 09:00 is row 2 + 12, a 30-minute visit spans 6 rows.
    assert "rows-132" in html and booked["row"] == "14" and booked["span"] == "6"
    assert html.count('class="col gc-') == 7


def test_current_time_line_is_in_todays_column_only(world: World) -> None:
    with clock.frozen_at(f.paris(2026, 3, 4, 10, 32)):
        html = agenda_html(signed_in(f.user_of(world.secretary)), world)
    lines = re.findall(r'<li class="now-line gc-(\d+) gs-(\d+) gl-1">', html)
    assert lines == [("4", str((10 * 60 + 30 - 8 * 60) // 5 + 2))]  # Wednesday, the 10:30 row
    assert "Now: 10:32" in html


@pytest.mark.parametrize(
    ("monday", "sunday", "sunday_utc", "saturday_utc"),
    [
        # Last Sunday of March: Paris moves from UTC+1 to UTC+2 at 02:00.
        (dt.date(2026, 3, 23), dt.date(2026, 3, 29), "20260329T0700Z", "20260328T0800Z"),
        # Last Sunday of October: back from UTC+2 to UTC+1 at 03:00.
        (dt.date(2026, 10, 19), dt.date(2026, 10, 25), "20261025T0800Z", "20261024T0700Z"),
    ],
)
def test_dst_sundays_keep_nine_oclock_on_the_nine_oclock_line(
    world: World, monday: dt.date, sunday: dt.date, sunday_utc: str, saturday_utc: str
) -> None:
    with clock.frozen_at(f.paris(monday.year, monday.month, monday.day, 7, 0)):
        html = agenda_html(signed_in(f.user_of(world.secretary)), world, date=sunday.isoformat())
    found = blocks(html)
    first_free = {b["col"]: b for b in found if b["kind"] == "free" and b["time"] == "09:00–09:30"}
    saturday, sun = first_free["7"], first_free["8"]
    assert saturday["row"] == sun["row"] == "14"
    assert f"start={sunday_utc}" in sun["body"] and f"start={saturday_utc}" in saturday["body"]
    # The night's closed block still ends on the 09:00 line on that 23- or 25-hour day.
    closed = [b for b in found if b["col"] == "8" and b["kind"] == "closed"]
    assert closed[0]["time"] == "00:00–09:00" and closed[0]["row"] == "2" and closed[0]["span"] == "12"


def test_group_day_shows_one_column_per_agenda_the_user_may_see(world: World) -> None:
    colleague = f.practitioner(world.site)
    f.every_day(colleague, world.site, start="14:00", end="18:00")
    f.motif(colleague, minutes=20)
    everything = f.staff(world.org)
    html = signed_in(f.user_of(everything)).get(f"/en/practice/organizations/{world.org.pk}/day/").content.decode()
    assert html.count('class="col gc-') == 2
    assert world.doc.display_name in html and colleague.display_name in html
    free = {(b["col"], b["time"]) for b in blocks(html) if b["kind"] == "free"}
    assert ("2", "09:00–09:30") in free or ("3", "09:00–09:30") in free
    assert any(t == "14:00–14:20" for _c, t in free)
    # A secretary granted only the first agenda sees only that column.
    limited = f.staff(world.org, all_agendas=False)
    AgendaAccess.objects.create(user=f.user_of(limited), agenda=world.agenda, can_view=True, can_book=True)
    html = signed_in(f.user_of(limited)).get(f"/en/practice/organizations/{world.org.pk}/day/").content.decode()
    assert html.count('class="col gc-') == 1 and colleague.display_name not in html
    # Another organization's staff: as if the organization did not exist.
    assert signed_in(f.user_of(world.outsider)).get(f"/practice/organizations/{world.org.pk}/day/").status_code == 404


def test_day_view_prints_the_days_list(world: World) -> None:
    book(world, f.paris(2026, 3, 3, 9, 0))
    html = agenda_html(signed_in(f.user_of(world.secretary)), world, view="day", date="2026-03-03")
    listing = html[html.index('class="print-list"') :]
    assert "Appointments of Tuesday 3 March 2026" in listing
    assert "09:00–09:30" in listing and "APPELANT Paul" in listing and "Booked" in listing
    assert "data-print" in html


def test_move_choose_a_day_see_its_free_times_and_confirm(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 3, 10, 0))
    client = signed_in(f.user_of(world.secretary))
    url = f"/en/practice/appointments/{appt.pk}/move/"
    html = client.get(url, {"date": "2026-03-05"}).content.decode()
    assert "Free times on Thursday 5 March 2026" in html
    assert f"?start={stamp(f.paris(2026, 3, 5, 9, 30))}" in html
    # Choosing a time asks for confirmation first: nothing moved yet.
    html = client.get(url, {"start": stamp(f.paris(2026, 3, 5, 9, 30))}).content.decode()
    assert "Confirm the move" in html and "Thursday 5 March 09:30" in html
    assert Appointment.objects.get(pk=appt.pk).status == Status.BOOKED
    response = client.post(url, {"start": stamp(f.paris(2026, 3, 5, 9, 30))})
    assert response.status_code == 302
    moved = Appointment.objects.get(rescheduled_from=appt)
    assert moved.start_at == f.paris(2026, 3, 5, 9, 30) and moved.status == Status.BOOKED


def test_a_drop_on_a_time_that_is_not_a_slot_explains_and_offers_the_days_times(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 3, 10, 0))
    client = signed_in(f.user_of(world.secretary))
    url = f"/en/practice/appointments/{appt.pk}/move/"
    response = client.get(url, {"at": "2026-03-05T15:10"})  # closed in the afternoon
    assert response.status_code == 422
    html = response.content.decode()
    assert "This time is not an available slot for this visit reason." in html
    assert "Confirm the move" not in html and "Free times on Thursday 5 March 2026" in html
    # A dropped wall-clock time that is a slot goes to the confirmation.
    html = client.get(url, {"at": "2026-03-05T11:00"}).content.decode()
    assert "Confirm the move" in html and f'value="{stamp(f.paris(2026, 3, 5, 11, 0))}"' in html
    assert client.get(url, {"at": "tomorrow"}).status_code == 400
    # Posting a taken time keeps the appointment where it was.
    book(world, f.paris(2026, 3, 5, 11, 0))
    response = client.post(url, {"start": stamp(f.paris(2026, 3, 5, 11, 0))})
    assert response.status_code == 409
    assert Appointment.objects.get(pk=appt.pk).status == Status.BOOKED


def test_move_needs_the_booking_right_and_is_hidden_from_other_organizations(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 3, 10, 0))
    viewer = f.staff(world.org, all_agendas=False)
    AgendaAccess.objects.create(user=f.user_of(viewer), agenda=world.agenda, can_view=True)
    url = f"/practice/appointments/{appt.pk}/move/"
    assert signed_in(f.user_of(viewer)).get(url).status_code == 403
    assert signed_in(f.user_of(world.outsider)).get(url).status_code == 404
    assert (
        signed_in(f.user_of(world.outsider)).post(url, {"start": stamp(f.paris(2026, 3, 5, 9, 30))}).status_code == 404
    )
    assert Appointment.objects.get(pk=appt.pk).status == Status.BOOKED
    html = agenda_html(signed_in(f.user_of(viewer)), world)
    assert 'draggable="true"' not in html and ">Move<" not in html and 'class="blk entry free' not in html
