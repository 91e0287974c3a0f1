"""Booking flow pages: chosen time → hold → (sign in) → for whom → confirmation and .ics."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.patients.models import Patient

from . import factories as f
from .personas import World
from .web_support import signed_in, stamp

pytestmark = pytest.mark.django_db

NINE = f.paris(2026, 3, 2, 9, 0)


def slot_params(w: World, start: dt.datetime = NINE) -> dict[str, str]:
    return {
        "practitioner": str(w.doc.pk),
        "motif": str(w.motif.pk),
        "site": str(w.site.pk),
        "start": stamp(start),
    }


def test_start_page_summarises_the_chosen_time(world: World, client: Client) -> None:
    response = client.get("/en/book/", slot_params(world))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Monday 2 March 2026" in html and "09:00" in html
    assert "Sign in or create an account to book" in html


@pytest.mark.parametrize("field,value", [("start", "yesterday"), ("start", "20260302T0900")])
def test_start_page_rejects_a_bad_time_with_400(world: World, client: Client, field: str, value: str) -> None:
    response = client.get("/en/book/", {**slot_params(world), field: value})
    assert response.status_code == 400
    assert "This time is not valid." in response.content.decode()


def test_start_page_with_unknown_ids_is_404(world: World, client: Client) -> None:
    response = client.get("/book/", {**slot_params(world), "motif": "not-a-uuid"})
    assert response.status_code == 404


def test_anonymous_visitor_is_sent_to_sign_in_and_the_hold_is_placed_after(world: World, client: Client) -> None:
    response = client.post("/book/hold/", {**slot_params(world), "start": NINE.isoformat()})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=%2Fbook%2Fresume%2F%3Fpractitioner%3D")
    assert not Appointment.objects.exists()
    client.force_login(world.user)
    response = client.get("/book/resume/")
    hold = Appointment.objects.get()
    assert hold.status == Status.HELD and hold.start_at == NINE
    assert response["Location"] == f"/book/{hold.pk}/"


def test_signed_in_patient_books_for_themselves(world: World) -> None:
    client = signed_in(world.user)
    response = client.post("/book/hold/", {**slot_params(world), "start": NINE.isoformat()})
    hold = Appointment.objects.get()
    assert response["Location"] == f"/book/{hold.pk}/"
    page = client.get(f"/en/book/{hold.pk}/")
    assert "For whom is this appointment?" in page.content.decode()
    response = client.post(f"/book/{hold.pk}/", {"patient": str(world.patient.pk)})
    assert response.status_code == 302
    hold.refresh_from_db()
    assert hold.status == Status.BOOKED and hold.patient_id == world.patient.pk
    done = client.get("/en" + response["Location"])
    assert "Your appointment is confirmed" in done.content.decode()


def test_new_account_gives_its_details_and_books_for_a_new_relative(world: World) -> None:
    user = f.User.objects.create_user("new@example.invalid", "correct horse battery 42")
    client = signed_in(user)
    client.post("/book/hold/", {**slot_params(world), "start": NINE.isoformat()})
    hold = Appointment.objects.get()
    response = client.post(
        f"/book/{hold.pk}/",
        {
            "me-given_name": "Nina",
            "me-family_name": "Nouvelle",
            "me-birth_date": "1990-05-01",
            "patient": "new",
            "rel-relationship": "child",
            "rel-given_name": "Léo",
            "rel-family_name": "Nouvelle",
            "rel-birth_date": "2019-01-02",
        },
    )
    assert response.status_code == 302
    hold.refresh_from_db()
    child = Patient.objects.get(account=user, relationship="child")
    assert hold.status == Status.BOOKED and hold.patient_id == child.pk
    assert Patient.objects.get(account=user, relationship="self").given_name == "Nina"


def test_missing_details_redisplay_the_form_and_keep_the_hold(world: World) -> None:
    user = f.User.objects.create_user("new2@example.invalid", "correct horse battery 42")
    client = signed_in(user)
    client.post("/book/hold/", {**slot_params(world), "start": NINE.isoformat()})
    hold = Appointment.objects.get()
    response = client.post(f"/book/{hold.pk}/", {"patient": "self", "me-given_name": "Nina"})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    hold.refresh_from_db()
    assert hold.status == Status.HELD


def test_losing_the_race_shows_a_friendly_message_and_next_free_times(world: World) -> None:
    _u, other, other_actor = f.patient_account(given_name="Bob")
    services.appointment_book(
        actor=other_actor, slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, NINE), patient_id=other.pk
    )
    client = signed_in(world.user)
    response = client.post("/en/book/hold/", {**slot_params(world), "start": NINE.isoformat()})
    assert response.status_code == 409
    html = response.content.decode()
    assert "This time is no longer available" in html
    assert "Sorry, this time has just been taken" in html
    assert "09:30" in html  # the next free time is offered


def test_a_patient_cannot_open_another_patients_hold(world: World) -> None:
    client = signed_in(world.user)
    client.post("/book/hold/", {**slot_params(world), "start": NINE.isoformat()})
    hold = Appointment.objects.get()
    intruder, _p, _a = f.patient_account(given_name="Eve")
    response = signed_in(intruder).get(f"/book/{hold.pk}/")
    assert response.status_code == 404


def test_confirmation_and_ics_belong_to_their_account_only(world: World) -> None:
    appt = services.appointment_book(
        actor=world.patient_actor,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, NINE),
        patient_id=world.patient.pk,
    )
    owner = signed_in(world.user)
    ics = owner.get(f"/appointments/{appt.pk}/calendar.ics")
    assert ics.status_code == 200
    assert ics["Content-Type"].startswith("text/calendar")
    body = ics.content.decode()
    assert "BEGIN:VEVENT" in body and "DTSTART:20260302T080000Z" in body and "DTEND:20260302T083000Z" in body
    intruder, _p, _a = f.patient_account(given_name="Eve")
    other = signed_in(intruder)
    assert other.get(f"/appointments/{appt.pk}/calendar.ics").status_code == 404
    assert other.get(f"/appointments/{appt.pk}/confirmed/").status_code == 404
    assert other.get(f"/account/appointments/{appt.pk}/").status_code == 404
    assert other.post(f"/account/appointments/{appt.pk}/cancel/").status_code == 404
    appt.refresh_from_db()
    assert appt.status == Status.BOOKED


def test_booking_pages_need_sign_in(world: World, client: Client) -> None:
    response = client.get("/account/")
    assert response.status_code == 302 and "/login/" in response["Location"]
