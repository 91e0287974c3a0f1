"""Teleconsultation rooms: a video motif's appointment has its own unguessable room link, shown to the
account of the patient (a parent for a child) and to the staff of the practitioner's agenda, in their
pages, e-mails and calendar files; never to anyone else, and never stored in the outbox."""

from __future__ import annotations

import datetime as dt
import re

import icalendar
import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from pytest_django.fixtures import Settings

from creneau.accounts.models import User
from creneau.booking import services
from creneau.booking.services import SlotRef
from creneau.booking.video import ROOM_PLACEHOLDER, room_name, room_url, video_link_for
from creneau.core.actors import Actor
from creneau.notifications import outbox
from creneau.notifications.models import MessageChannel, OutboundMessage
from creneau.notifications.services import calendar_feed_create
from creneau.patients.models import Relationship
from creneau.patients.services import patient_create_for_account
from creneau.scheduling.models import VisitChannel

from . import factories as f
from .web_support import signed_in

pytestmark = pytest.mark.django_db

BASE = "https://visio.cabinet.example/"
ROOM = re.compile(r"https://visio\.cabinet\.example/([a-z2-7]{32})")


@pytest.fixture(autouse=True)
def video_settings(settings: Settings) -> None:
    settings.CRENEAU_VIDEO_BASE_URL = BASE
    settings.CRENEAU_PUBLIC_URL = "https://rdv.creneau.example"
    settings.CRENEAU_SMS_BACKEND = "creneau.notifications.sms.LocmemSmsBackend"


@pytest.fixture
def tele(monday_morning: None) -> dict[str, object]:
    """A practitioner with a video motif and an in-person one; a patient account with a child; a
    secretary of the practice; a secretary of the practice without this agenda; outsiders."""
    org = f.organization("Cabinet Visio")
    site = f.site(org)
    doc = f.practitioner(site)
    f.every_day(doc, site)
    video = f.motif(doc, minutes=20, name="Téléconsultation")
    video.channel = VisitChannel.VIDEO
    video.save(update_fields=["channel"])
    in_person = f.motif(doc, minutes=30, name="Consultation au cabinet")
    user, me, actor = f.patient_account("parent@example.invalid")
    child = patient_create_for_account(
        actor=actor,
        relationship=Relationship.CHILD,
        family_name="Patiente",
        given_name="Léa",
        birth_date=dt.date(2019, 5, 1),
    )
    other_user, _other, _ = f.patient_account("autre@example.invalid")
    return {
        "org": org,
        "site": site,
        "doc": doc,
        "video": video,
        "in_person": in_person,
        "user": user,
        "me": me,
        "child": child,
        "actor": actor,
        "secretary": f.staff(org),
        "blind_secretary": f.staff(org, all_agendas=False),
        "outsider_staff": f.staff(f.organization("Autre Cabinet")),
        "other_user": other_user,
    }


def _book(t: dict, *, motif_key: str = "video", patient_key: str = "child", hour: int = 10) -> object:
    start = f.paris(2026, 3, 4, hour, 0)
    motif = t[motif_key]
    slot = SlotRef(t["doc"].pk, motif.pk, t["site"].pk, start)
    return services.appointment_book(actor=t["actor"], slot=slot, patient_id=t[patient_key].pk)


def _user(actor: Actor) -> User:
    return f.user_of(actor)


def test_the_room_is_an_unguessable_name_of_each_appointment_under_the_secret_key(
    tele: dict, settings: Settings
) -> None:
    first, second = _book(tele, hour=10), _book(tele, patient_key="me", hour=11)
    name = room_name(first.pk)  # type: ignore[attr-defined]
    assert re.fullmatch(r"[a-z2-7]{32}", name)  # 160 bits
    assert room_name(first.pk) == name  # type: ignore[attr-defined]  # the same every time: nothing stored
    assert room_name(second.pk) != name  # type: ignore[attr-defined]
    assert str(first.pk).replace("-", "") not in name  # type: ignore[attr-defined]
    assert room_url(first.pk) == BASE + name  # type: ignore[attr-defined]
    settings.SECRET_KEY = "another secret key, another set of rooms"
    assert room_name(first.pk) != name  # type: ignore[attr-defined]  # keyed: the id alone does not give it


def test_the_e_mails_and_their_calendar_file_carry_the_link_only_once_they_leave(tele: dict) -> None:
    appointment = _book(tele)
    url = room_url(appointment.pk)  # type: ignore[attr-defined]
    name = room_name(appointment.pk)  # type: ignore[attr-defined]
    stored = list(OutboundMessage.objects.filter(appointment_id=appointment.pk))  # type: ignore[attr-defined]
    assert stored
    for message in stored:  # the outbox (a dump, the admin) holds no way into the room
        assert name not in message.body_text + message.body_html + message.ics
    confirmation = next(m for m in stored if m.kind == "booking_confirmation" and m.channel == MessageChannel.EMAIL)
    assert ROOM_PLACEHOLDER in confirmation.body_text and ROOM_PLACEHOLDER in confirmation.ics
    outbox.deliver_ids([confirmation.pk])
    (sent,) = mail.outbox
    assert url in sent.body and ROOM_PLACEHOLDER not in sent.body
    assert "Téléconsultation" in sent.body
    assert isinstance(sent, EmailMultiAlternatives)
    html = str(sent.alternatives[0][0])
    assert f'<a href="{url}">{url}</a>' in html and ROOM_PLACEHOLDER not in html
    (event,) = icalendar.Calendar.from_ical(sent.attachments[0][1]).walk("VEVENT")
    assert str(event["LOCATION"]) == url and str(event["CONFERENCE"]) == url
    assert event["CONFERENCE"].params["FEATURE"] == "VIDEO"
    # SMS carry no link into the room (they carry only the date, the time and the account's link).
    for message in stored:
        if message.channel == MessageChannel.SMS:
            assert ROOM_PLACEHOLDER not in message.body_text


def test_a_reminder_and_a_move_message_carry_the_new_room(tele: dict) -> None:
    appointment = _book(tele, patient_key="me")
    moved = services.appointment_reschedule(
        actor=tele["actor"],
        appointment_id=appointment.pk,  # type: ignore[attr-defined]
        new_start=f.paris(2026, 3, 5, 9, 0),
    )
    message = OutboundMessage.objects.get(kind="move", channel=MessageChannel.EMAIL)
    outbox.deliver_ids([message.pk])
    body = mail.outbox[-1].body
    assert room_url(moved.pk) in body and room_url(appointment.pk) not in body  # type: ignore[attr-defined]
    reminder = OutboundMessage.objects.filter(
        kind="reminder", channel=MessageChannel.EMAIL, appointment_id=moved.pk, status="pending"
    ).first()
    assert reminder is not None and ROOM_PLACEHOLDER in reminder.body_text
    assert room_name(moved.pk) not in reminder.body_text


def test_the_account_holder_sees_the_link_of_a_child_on_every_page_and_in_the_download(tele: dict) -> None:
    appointment = _book(tele)
    url = room_url(appointment.pk)  # type: ignore[attr-defined]
    client = signed_in(tele["user"])
    for path in (
        "/account/",
        f"/account/appointments/{appointment.pk}/",  # type: ignore[attr-defined]
        f"/appointments/{appointment.pk}/confirmed/",  # type: ignore[attr-defined]
    ):
        response = client.get(path)
        assert response.status_code == 200 and url in response.content.decode(), path
    assert "Rejoindre la visioconférence" in client.get(f"/account/appointments/{appointment.pk}/").content.decode()  # type: ignore[attr-defined]
    ics = client.get(f"/appointments/{appointment.pk}/calendar.ics").content  # type: ignore[attr-defined]
    (event,) = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    assert str(event["LOCATION"]) == url
    token = calendar_feed_create(actor=tele["actor"], user=tele["user"])
    feed = Client().get(f"/calendar/{token}.ics").content
    assert [str(e["LOCATION"]) for e in icalendar.Calendar.from_ical(feed).walk("VEVENT")] == [url]


def test_the_practice_staff_see_the_link_on_the_appointment_and_in_the_agenda(tele: dict) -> None:
    appointment = _book(tele)
    url = room_url(appointment.pk)  # type: ignore[attr-defined]
    client = signed_in(_user(tele["secretary"]))
    page = client.get(f"/practice/appointments/{appointment.pk}/")  # type: ignore[attr-defined]
    assert page.status_code == 200 and url in page.content.decode()
    agenda = f.agenda(tele["doc"], tele["org"])
    grid = client.get(f"/practice/agenda/{agenda.pk}/?view=day&date=2026-03-04")
    assert grid.status_code == 200 and url in grid.content.decode()


def test_nobody_else_gets_the_link(tele: dict) -> None:
    appointment = _book(tele)
    pk = appointment.pk  # type: ignore[attr-defined]
    name = room_name(pk)
    agenda = f.agenda(tele["doc"], tele["org"])
    outsiders: list[tuple[Client, list[str]]] = [
        (
            signed_in(tele["other_user"]),
            [
                f"/account/appointments/{pk}/",
                f"/appointments/{pk}/confirmed/",
                f"/appointments/{pk}/calendar.ics",
                "/account/",
            ],
        ),
        (
            signed_in(_user(tele["outsider_staff"])),
            [f"/practice/appointments/{pk}/", f"/practice/agenda/{agenda.pk}/?view=day&date=2026-03-04"],
        ),
        (
            signed_in(_user(tele["blind_secretary"])),
            [f"/practice/appointments/{pk}/", f"/practice/agenda/{agenda.pk}/?view=day&date=2026-03-04"],
        ),
        (
            Client(),
            [f"/account/appointments/{pk}/", f"/appointments/{pk}/calendar.ics", f"/practitioners/{tele['doc'].pk}/"],
        ),
    ]
    for client, paths in outsiders:
        for path in paths:
            response = client.get(path)
            assert name not in response.content.decode(errors="replace"), path
            assert response.status_code in (200, 302, 403, 404), path
    # Whoever read the row some other way gets nothing from the link function either.
    for actor in (
        Actor.for_patient(tele["other_user"]),
        tele["outsider_staff"],
        tele["blind_secretary"],
        Actor.system(),
    ):
        assert video_link_for(actor, appointment) == ""  # type: ignore[arg-type]
    assert video_link_for(tele["actor"], appointment) == room_url(pk)  # type: ignore[arg-type]
    assert video_link_for(tele["secretary"], appointment) == room_url(pk)  # type: ignore[arg-type]


def test_in_person_and_cancelled_appointments_have_no_room(tele: dict) -> None:
    visit = _book(tele, motif_key="in_person", patient_key="me", hour=9)
    video = _book(tele, hour=11)
    services.appointment_cancel(actor=tele["actor"], appointment_id=video.pk)  # type: ignore[attr-defined]
    video.refresh_from_db()  # type: ignore[attr-defined]
    client = signed_in(tele["user"])
    for a in (visit, video):
        assert video_link_for(tele["actor"], a) == ""  # type: ignore[arg-type]
        page = client.get(f"/account/appointments/{a.pk}/").content.decode()  # type: ignore[attr-defined]
        assert BASE not in page and "Rejoindre la visioconférence" not in page
    for message in OutboundMessage.objects.filter(appointment_id=visit.pk):  # type: ignore[attr-defined]
        assert ROOM_PLACEHOLDER not in message.body_text + message.ics


def test_english_messages_and_pages_say_it_in_english(tele: dict) -> None:
    tele["user"].language = "en"
    tele["user"].save(update_fields=["language"])
    appointment = _book(tele)
    confirmation = OutboundMessage.objects.get(kind="booking_confirmation", channel=MessageChannel.EMAIL)
    outbox.deliver_ids([confirmation.pk])
    assert "Video consultation: join the video call" in mail.outbox[-1].body
    page = signed_in(tele["user"]).get(f"/en/account/appointments/{appointment.pk}/").content.decode()  # type: ignore[attr-defined]
    assert "Join the video call" in page and room_url(appointment.pk) in page  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("base", "production", "found"),
    [
        ("https://visio.cabinet.example/", False, []),
        ("https://visio.cabinet.example/", True, ["creneau.W108"]),  # the placeholder domain in production
        ("https://meet.cabinet-lumiere.fr/rooms/", True, []),
        ("http://127.0.0.1:8443/", False, []),
        ("http://visio.cabinet-lumiere.fr/", False, ["creneau.E108"]),  # not encrypted
        ("https://visio.cabinet-lumiere.fr/?room=", False, ["creneau.E108"]),
        ("visio.cabinet-lumiere.fr", False, ["creneau.E108"]),
        ("", False, ["creneau.E108"]),
    ],
)
def test_the_video_service_setting_is_checked_at_start(
    settings: Settings, base: str, production: bool, found: list
) -> None:
    from creneau.core.checks import check_video_service

    settings.CRENEAU_VIDEO_BASE_URL = base
    settings.CRENEAU_REQUIRE_REAL_KEYS = production
    assert [e.id for e in check_video_service()] == found
