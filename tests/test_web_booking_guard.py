"""Never offer a time that will be refused: the start page checks the slot before sign-in, the
practitioner page asks whether the patient was seen before, one's own time is recognised, a failed
confirmation adds nobody to the account, and the verification link keeps the chosen time on another
device."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import unquote

import pytest
from django.core import mail
from django.test import Client

from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.patients.models import Patient, Relationship
from creneau.scheduling.models import Motif

from . import factories as f
from .notif_support import deliver
from .personas import World
from .web_support import signed_in, stamp

pytestmark = pytest.mark.django_db

NINE = f.paris(2026, 3, 2, 9, 0)
PASSWORD = "a long passphrase 4 creneau"


def slot_params(w: World, start: dt.datetime = NINE, motif: Motif | None = None) -> dict[str, str]:
    return {
        "practitioner": str(w.doc.pk),
        "motif": str((motif or w.motif).pk),
        "site": str(w.site.pk),
        "start": stamp(start),
    }


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (dt.datetime(1999, 1, 1, 9, 0, tzinfo=dt.UTC), "This time has already passed."),
        (f.paris(2026, 3, 8, 3, 0), "This time is not an available slot for this visit reason."),  # Sunday 03:00
        (f.paris(2026, 3, 2, 9, 7), "This time is not an available slot for this visit reason."),  # off the grid
        (f.paris(2026, 12, 1, 9, 0), "This time is too far ahead to be booked yet."),
    ],
)
def test_start_page_refuses_a_time_that_is_no_slot_before_sign_in(
    world: World, client: Client, start: dt.datetime, message: str
) -> None:
    response = client.get("/en/book/", slot_params(world, start))
    assert response.status_code == 422
    html = response.content.decode()
    assert message in html
    assert "Sign in or create an account to book" not in html
    # Posting it anyway does not send anyone to sign in either.
    posted = client.post("/en/book/hold/", slot_params(world, start))
    assert posted.status_code == 422 and "accounts/login" not in posted.get("Location", "")


def test_start_page_refusal_is_in_french_by_default(world: World, client: Client) -> None:
    response = client.get("/book/", slot_params(world, f.paris(2026, 3, 2, 9, 7)))
    assert response.status_code == 422
    assert "Cet horaire n’est pas un créneau disponible pour ce motif." in response.content.decode()


def test_start_page_shows_a_taken_time_as_taken_with_alternatives(world: World, client: Client) -> None:
    _other, _patient, other_actor = f.patient_account()
    services.slot_hold(actor=other_actor, slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, NINE))
    response = client.get("/en/book/", slot_params(world))
    assert response.status_code == 409
    assert "09:30</a>" in response.content.decode()


def test_returning_only_motif_is_refused_at_the_start_for_a_newcomer_signed_in(world: World) -> None:
    follow_up = f.motif(world.doc, audience="returning", name="Suivi")
    response = signed_in(world.user).get("/en/book/", slot_params(world, motif=follow_up))
    assert response.status_code == 422
    assert "reserved for patients already followed by this practitioner" in response.content.decode()
    assert not Appointment.objects.exists()


def test_practitioner_page_asks_first_when_some_motifs_are_for_returning_patients(world: World, client: Client) -> None:
    follow_up = f.motif(world.doc, audience="returning", name="Suivi")
    url = f"/en/practitioners/{world.doc.pk}/"
    first = client.get(url).content.decode()
    assert "Have you already seen this practitioner?" in first
    assert "book/?practitioner" not in first  # no slot before the answer
    newcomer = client.get(url, {"seen": "no"}).content.decode()
    assert f"motif={world.motif.pk}" in newcomer and f"motif={follow_up.pk}" not in newcomer
    returning = client.get(url, {"seen": "yes"}).content.decode()
    assert f'<option value="{follow_up.pk}"' in returning


def test_practitioner_page_without_audience_rules_shows_slots_at_once(world: World, client: Client) -> None:
    html = client.get(f"/en/practitioners/{world.doc.pk}/").content.decode()
    assert "Have you already seen this practitioner?" not in html
    assert "book/?practitioner" in html


def test_practitioner_closed_to_new_patients_offers_newcomers_no_slot(world: World, client: Client) -> None:
    world.doc.accepts_new_patients = False
    world.doc.save()
    html = client.get(f"/en/practitioners/{world.doc.pk}/", {"seen": "no"}).content.decode()
    assert "not taking new patients at the moment" in html and "book/?practitioner" not in html


def test_back_and_continue_on_ones_own_hold_goes_on_with_it(world: World) -> None:
    client = signed_in(world.user)
    first = client.post("/book/hold/", slot_params(world))
    hold = Appointment.objects.get()
    again = client.post("/book/hold/", slot_params(world))
    assert again.status_code == 302 and again["Location"] == first["Location"] == f"/book/{hold.pk}/"
    assert Appointment.objects.count() == 1


def test_back_and_continue_on_ones_own_booking_says_it_is_booked(world: World) -> None:
    client = signed_in(world.user)
    client.post("/book/hold/", slot_params(world))
    hold = Appointment.objects.get()
    client.post(f"/book/{hold.pk}/", {"patient": str(world.patient.pk)})
    again = client.post("/en/book/hold/", slot_params(world), follow=True)
    html = again.content.decode()
    assert "You have already booked this time." in html
    assert "has just been taken" not in html
    start = client.get("/en/book/", slot_params(world), follow=True).content.decode()
    assert "You have already booked this time." in start


def test_a_refused_confirmation_adds_no_relative_however_often_it_is_tried(world: World) -> None:
    # The practitioner takes no new patients: booking for a child never seen is refused at confirmation.
    world.doc.accepts_new_patients = False
    world.doc.save()
    client = signed_in(world.user)
    client.post("/book/hold/", slot_params(world))
    hold = Appointment.objects.get()
    form = {
        "patient": "new",
        "rel-relationship": Relationship.CHILD,
        "rel-given_name": "Léo",
        "rel-family_name": "Martin",
        "rel-birth_date": "2018-05-01",
    }
    for _attempt in range(3):
        refused = client.post(f"/en/book/{hold.pk}/", form)
        assert refused.status_code == 422
        assert "not accepting new patients" in refused.content.decode()
    assert not Patient.objects.filter(account=world.user, relationship=Relationship.CHILD).exists()


def test_a_relative_already_on_the_account_is_reused_not_added_again(world: World) -> None:
    client = signed_in(world.user)
    form = {
        "patient": "new",
        "rel-relationship": Relationship.CHILD,
        "rel-given_name": "Léo",
        "rel-family_name": "Martin",
        "rel-birth_date": "2018-05-01",
    }
    for start in (NINE, f.paris(2026, 3, 3, 9, 0)):
        client.post("/book/hold/", slot_params(world, start))
        hold = Appointment.objects.get(status=Status.HELD)
        assert client.post(f"/book/{hold.pk}/", form).status_code == 302
    children = Patient.objects.filter(account=world.user, relationship=Relationship.CHILD)
    assert children.count() == 1
    assert Appointment.objects.filter(status=Status.BOOKED, patient=children.get()).count() == 2


def test_verification_link_opened_on_another_device_keeps_the_chosen_time(world: World) -> None:
    laptop, phone = Client(), Client()
    to_login = laptop.post("/book/hold/", slot_params(world))
    next_url = unquote(to_login["Location"].split("next=", 1)[1])
    laptop.post(
        "/en/accounts/signup/",
        {"email": "nina@example.invalid", "password1": PASSWORD, "password2": PASSWORD, "next": next_url},
    )
    deliver()
    link = re.search(r"https?://[^/\s]+(/\S+/verify/\S+)", str(mail.outbox[-1].body))
    assert link is not None
    back = phone.get(link.group(1))  # another browser: none of the laptop's session
    assert back.status_code == 302 and back["Location"].startswith("/book/resume/?practitioner=")
    held = phone.get(back["Location"])
    hold = Appointment.objects.get()
    assert hold.status == Status.HELD and hold.start_at == NINE
    assert held["Location"] == f"/book/{hold.pk}/"


def test_verification_link_ignores_a_next_address_on_another_site(db: None, client: Client) -> None:
    client.post(
        "/en/accounts/signup/",
        {"email": "eve@example.invalid", "password1": PASSWORD, "password2": PASSWORD, "next": "https://evil.example/"},
    )
    deliver()
    link = re.search(r"https?://[^/\s]+(/\S+/verify/\S+)", str(mail.outbox[-1].body))
    assert link is not None and "evil" not in link.group(1)
    response = Client().get(link.group(1) + "?next=https://evil.example/")
    assert response.status_code == 302 and "evil" not in response["Location"]
