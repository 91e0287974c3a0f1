"""My account: appointments, cancel and move within the deadline, relatives, profile."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.patients.models import Patient

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


def test_account_lists_upcoming_appointments(world: World) -> None:
    book(world, f.paris(2026, 3, 3, 10, 0))
    html = signed_in(world.user).get("/en/account/").content.decode()
    assert "Upcoming" in html and world.doc.display_name in html and "10:00" in html


def test_account_page_runs_a_fixed_number_of_queries(world: World) -> None:
    client = signed_in(world.user)
    book(world, f.paris(2026, 3, 3, 10, 0))
    client.get("/account/")
    with CaptureQueriesContext(connection) as one:
        client.get("/account/")
    for day in (4, 5):  # one a day with a practitioner (the spacing rule)
        book(world, f.paris(2026, 3, day, 9, 0))
    with CaptureQueriesContext(connection) as three:
        client.get("/account/")
    assert len(three) == len(one)


def test_patient_cancels_before_the_deadline(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 3, 10, 0))
    client = signed_in(world.user)
    response = client.post(f"/account/appointments/{appt.pk}/cancel/")
    assert response.status_code == 302
    appt.refresh_from_db()
    assert appt.status == Status.CANCELLED


def test_cancelling_after_the_deadline_shows_the_policy_message(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 2, 10, 0))  # in 3 hours; the deadline is 4 hours
    client = signed_in(world.user)
    page = client.get(f"/en/account/appointments/{appt.pk}/")
    assert "please call the practice" in page.content.decode()
    response = client.post(f"/en/account/appointments/{appt.pk}/cancel/")
    assert response.status_code == 422
    assert "can no longer be changed online" in response.content.decode()
    appt.refresh_from_db()
    assert appt.status == Status.BOOKED


def test_patient_moves_an_appointment(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 3, 10, 0))
    client = signed_in(world.user)
    week = client.get(f"/account/appointments/{appt.pk}/move/")
    assert week.status_code == 200 and "11:00" in week.content.decode()
    new_start = f.paris(2026, 3, 4, 11, 0)
    confirm = client.get(f"/account/appointments/{appt.pk}/move/", {"start": stamp(new_start)})
    assert confirm.status_code == 200
    response = client.post(f"/account/appointments/{appt.pk}/move/", {"start": new_start.isoformat()})
    assert response.status_code == 302
    appt.refresh_from_db()
    assert appt.status == Status.CANCELLED
    assert Appointment.objects.get(rescheduled_from=appt).start_at == new_start


def test_moving_to_a_time_outside_opening_hours_is_refused_with_a_message(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 3, 10, 0))
    client = signed_in(world.user)
    response = client.post(
        f"/en/account/appointments/{appt.pk}/move/", {"start": f.paris(2026, 3, 4, 20, 0).isoformat()}
    )
    assert response.status_code == 422
    assert "not an available slot" in response.content.decode()


def test_add_a_relative(world: World) -> None:
    client = signed_in(world.user)
    response = client.post(
        "/account/relatives/add/",
        {"relationship": "child", "given_name": "Zoé", "family_name": "Patiente", "birth_date": "2020-02-02"},
    )
    assert response.status_code == 302
    assert Patient.objects.filter(account=world.user, relationship="child").count() == 1


def test_relative_with_a_future_birth_date_is_a_400(world: World) -> None:
    client = signed_in(world.user)
    response = client.post(
        "/en/account/relatives/add/",
        {"relationship": "child", "given_name": "Zoé", "family_name": "Patiente", "birth_date": "2999-02-02"},
    )
    assert response.status_code == 400
    assert "Please check the date of birth." in response.content.decode()


def test_profile_updates_own_details(world: World) -> None:
    client = signed_in(world.user)
    data = {"given_name": "Alice", "family_name": "Martin", "birth_date": "1985-03-14", "sex": "F", "phone": ""}
    response = client.post("/account/profile/", data)
    assert response.status_code == 302
    world.patient.refresh_from_db()
    assert (world.patient.family_name, world.patient.birth_date, world.patient.sex) == (
        "Martin",
        dt.date(1985, 3, 14),
        "F",
    )
    page = client.get(response["Location"]).content.decode()
    assert "Martin" in page  # the page the patient lands on shows the new name


def test_account_links_to_messages_waiting_lists_journal_and_data(client: Client, world: World) -> None:
    client.force_login(world.user)
    page = client.get("/account/").content.decode()
    for url in ("/account/messages/", "/account/waiting-list/", "/account/access-journal/", "/account/my-data/"):
        assert url in page


def test_a_booked_appointment_offers_to_join_the_waiting_list(client: Client, world: World) -> None:
    from creneau.booking import services
    from creneau.booking.services import SlotRef

    appt = services.appointment_book(
        actor=world.patient_actor,
        patient_id=world.patient.pk,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 5, 9, 0)),
    )
    client.force_login(world.user)
    page = client.get(f"/account/appointments/{appt.pk}/").content.decode()
    assert "/account/waiting-list/join/" in page and str(appt.pk) in page
    r = client.post("/account/waiting-list/join/", {"appointment_id": str(appt.pk)})
    assert r.status_code == 302 and r["Location"].endswith("/account/waiting-list/")
