"""Practice statistics per month over the agendas the user may see: fill rate, no-show rate by visit
reason, bookings by channel; a server-rendered SVG chart and a CSV; nothing of another agenda."""

from __future__ import annotations

import csv
import io

import pytest

from creneau.booking import services
from creneau.booking.models import Status
from creneau.booking.services import SlotRef
from creneau.booking.stats import practice_stats
from creneau.core import clock

from . import factories as f
from .personas import World
from .web_support import signed_in

pytestmark = pytest.mark.django_db


def _book(world: World, actor: object, patient: object, day: int, hour: int = 9) -> object:
    slot = SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, day, hour, 0))
    return services.appointment_book(actor=actor, slot=slot, patient_id=patient.pk)  # type: ignore[arg-type, attr-defined]


def _march(world: World) -> None:
    """Four bookings in March: two by phone (one missed, one kept), one online kept, one cancelled."""
    missed = _book(world, world.secretary, world.caller, 2, 9)
    kept = _book(world, world.secretary, world.caller, 2, 10)
    online = _book(world, world.patient_actor, world.patient, 2, 11)
    cancelled = _book(world, world.secretary, world.caller, 3, 9)
    services.appointment_cancel(actor=world.secretary, appointment_id=cancelled.pk)  # type: ignore[attr-defined]
    with clock.frozen_at(f.paris(2026, 3, 2, 12, 0)):
        services.appointment_mark(actor=world.secretary, appointment_id=missed.pk, status=Status.NO_SHOW)  # type: ignore[attr-defined]
        services.appointment_mark(actor=world.secretary, appointment_id=kept.pk, status=Status.FULFILLED)  # type: ignore[attr-defined]
        services.appointment_mark(actor=world.secretary, appointment_id=online.pk, status=Status.FULFILLED)  # type: ignore[attr-defined]


def test_fill_rate_no_shows_and_channels_per_month(world: World) -> None:
    _march(world)
    rows = practice_stats(world.secretary, last_month=f.paris(2026, 3, 2).date(), months=2)
    february, march = rows
    assert (february.month.month, march.month.month) == (2, 3)
    assert march.bookings == 3 and march.by_channel["phone"] == 2 and march.by_channel["web"] == 1
    assert march.open_minutes == 31 * 180  # open every day 09:00-12:00
    assert march.booked_minutes == 90 and march.fill_rate == pytest.approx(90 / (31 * 180))
    assert march.no_shows == 1 and march.no_show_rate == pytest.approx(1 / 3)
    assert march.by_motif[world.motif.name] == [1, 3]


def test_another_organization_sees_none_of_it(world: World) -> None:
    _march(world)
    rows = practice_stats(world.outsider, last_month=f.paris(2026, 3, 2).date(), months=1)
    assert rows[0].bookings == 0 and rows[0].open_minutes == 0


def test_the_page_draws_an_svg_chart_and_the_csv_has_the_numbers(world: World) -> None:
    _march(world)
    client = signed_in(f.user_of(world.secretary))
    page = client.get("/en/practice/statistics/")
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html and "<rect" in html and "No-shows by visit reason" in html
    french = client.get("/practice/statistics/").content.decode()
    assert "Statistiques" in french and "Taux de remplissage" in french
    response = client.get("/en/practice/statistics.csv?months=1")
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.content.decode())))
    header, march = table[0], table[1]
    assert march[0] == "2026-03" and march[header.index("bookings")] == "3"
    assert march[header.index("no-show rate (%)")] == "33.3"
    assert any(row[:1] == [world.motif.name] for row in table)
    assert client.get("/en/practice/statistics/?months=abc").status_code == 200  # bad input: the default


def test_the_statistics_are_for_staff_only(world: World) -> None:
    assert signed_in(world.user).get("/en/practice/statistics/").status_code == 404
    assert signed_in(world.user).get("/en/practice/statistics.csv").status_code == 404
