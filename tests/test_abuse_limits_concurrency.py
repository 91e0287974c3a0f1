"""Anti-hoarding limits hold when one account fires many simultaneous requests at the live server.

An outside review raced them on PostgreSQL: 30 simultaneous holds from one account gave 8 holds against a
limit of 2, two simultaneous confirmations at 7 bookings gave 9 future bookings against a cap of 8. Each
test here fires 50 simultaneous requests over real HTTP and asserts the exact limit. Both passes of
`make test` run them (PostgreSQL: the per-account advisory lock; SQLite: BEGIN IMMEDIATE)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
import requests
from django.test import override_settings

from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.core import clock

from . import factories as f
from .live_support import fire, session_for, statuses

pytestmark = pytest.mark.django_db(transaction=True)

N = 50
NO_HOURLY_LIMIT = {"hold-actor": (10_000, 3600)}


@pytest.fixture
def frozen() -> Any:
    with clock.frozen_at(f.paris(2026, 3, 2, 7, 0)):
        yield


def _agenda() -> tuple[Any, Any, Any]:
    org = f.organization("Cabinet Course")
    site = f.site(org)
    doc = f.practitioner(site)
    f.every_day(doc, site)
    return doc, f.motif(doc, minutes=30), site


def _starts(n: int) -> list[dt.datetime]:
    """n distinct free starts, one a day from Tuesday 3 March 2026 (between 09:00 and 11:30): a patient
    may see one practitioner once a day (the spacing rule)."""
    return [f.paris(2026, 3, 3, 9 + (i % 6) // 2, 30 * (i % 2)) + dt.timedelta(days=i) for i in range(n)]


@override_settings(CRENEAU_RATE_LIMITS=NO_HOURLY_LIMIT)
def test_fifty_simultaneous_holds_from_one_account_place_exactly_the_limit(live_server: Any, frozen: None) -> None:
    doc, motif, site = _agenda()
    user, _patient, _actor = f.patient_account()
    web = session_for(user)
    starts = _starts(N)

    def hold(i: int) -> Any:
        data = {"practitioner": doc.pk, "motif": motif.pk, "site": site.pk, "start": starts[i].isoformat()}
        return web.post(f"{live_server.url}/en/book/hold/", data=data, allow_redirects=False, timeout=120)

    outcome = Counter(statuses(fire(N, hold)))
    # Exactly two holds; the rest refused (422), or 503 when the fast-failing pool sheds load.
    assert outcome[302] == 2 and outcome[422] + outcome[503] == N - 2, outcome
    assert Appointment.objects.filter(status=Status.HELD, booked_by=user).count() == 2


@override_settings(CRENEAU_RATE_LIMITS=NO_HOURLY_LIMIT, CRENEAU_MAX_ACTIVE_HOLDS=N)
def test_fifty_simultaneous_confirmations_never_pass_the_future_bookings_cap(live_server: Any, frozen: None) -> None:
    doc, motif, site = _agenda()
    user, patient, actor = f.patient_account()
    starts = _starts(6 + N)
    for start in starts[:6]:  # six upcoming bookings already; the cap is eight
        services.appointment_book(actor=actor, slot=SlotRef(doc.pk, motif.pk, site.pk, start), patient_id=patient.pk)
    holds = [services.slot_hold(actor=actor, slot=SlotRef(doc.pk, motif.pk, site.pk, s)) for s in starts[6:]]
    web = session_for(user)

    def confirm(i: int) -> Any:
        url = f"{live_server.url}/en/book/{holds[i].pk}/"
        return web.post(url, data={"patient": str(patient.pk)}, allow_redirects=False, timeout=120)

    outcome = Counter(statuses(fire(N, confirm)))
    assert outcome[302] == 2 and outcome[422] + outcome[503] == N - 2, outcome
    upcoming = Appointment.objects.filter(patient__account=user, status=Status.BOOKED, start_at__gt=clock.now())
    assert upcoming.count() == 8


@override_settings(CRENEAU_RATE_LIMITS=NO_HOURLY_LIMIT, CRENEAU_MAX_ACTIVE_HOLDS=N)
def test_fifty_simultaneous_confirmations_the_same_day_book_the_patient_once(live_server: Any, frozen: None) -> None:
    """The spacing rule under load: fifty holds with one practitioner on one day (a 5-minute visit
    reason, open 08:00 to 13:00), confirmed at once for the same child: one booking, forty-nine refusals
    telling why."""
    org = f.organization("Cabinet Course")
    site = f.site(org)
    doc = f.practitioner(site)
    f.every_day(doc, site, start="08:00", end="13:00")
    quick = f.motif(doc, minutes=5, name="Très court")
    user, _patient, actor = f.patient_account()
    from creneau.patients.models import Relationship
    from creneau.patients.services import patient_create_for_account

    child = patient_create_for_account(
        actor=actor,
        relationship=Relationship.CHILD,
        family_name="Enfant",
        given_name="Léo",
        birth_date=dt.date(2016, 5, 1),
    )
    starts = [f.paris(2026, 3, 3, 8, 0) + dt.timedelta(minutes=5 * i) for i in range(N)]
    holds = [services.slot_hold(actor=actor, slot=SlotRef(doc.pk, quick.pk, site.pk, s)) for s in starts]
    web = session_for(user)

    def confirm(i: int) -> Any:
        url = f"{live_server.url}/en/book/{holds[i].pk}/"
        return web.post(url, data={"patient": str(child.pk)}, allow_redirects=False, timeout=120)

    answers = fire(N, confirm)
    outcome = Counter(statuses(answers))
    assert outcome[302] == 1 and outcome[422] + outcome[503] == N - 1, outcome
    assert Appointment.objects.filter(patient=child, status=Status.BOOKED).count() == 1
    refused = [a for a in answers if isinstance(a, requests.Response) and a.status_code == 422]
    assert refused and all("one a day at most" in a.text for a in refused)


@override_settings(CRENEAU_RATE_LIMITS=NO_HOURLY_LIMIT)
def test_the_refusal_page_tells_the_patient_why_in_french(live_server: Any, frozen: None) -> None:
    doc, motif, site = _agenda()
    user, _patient, _actor = f.patient_account()
    web = session_for(user)
    pages = []
    for start in _starts(3):
        data = {"practitioner": doc.pk, "motif": motif.pk, "site": site.pk, "start": start.isoformat()}
        pages.append(web.post(f"{live_server.url}/book/hold/", data=data, allow_redirects=False, timeout=30))
    assert [p.status_code for p in pages] == [302, 302, 422]
    assert "Vous retenez déjà d’autres créneaux." in pages[2].text
