"""Calendar files: hostile names cannot add properties, and one appointment is one calendar event
(the same UID from the web download and every e-mail, kept across a move with a higher SEQUENCE)."""

from __future__ import annotations

import icalendar
import pytest
from django.core import mail
from django.test import Client
from pytest_django.fixtures import Settings

from creneau.audit.models import AuditEvent
from creneau.booking import services
from creneau.notifications import outbox

from . import factories as f
from .notif_support import book
from .personas import World
from .web_support import signed_in

pytestmark = pytest.mark.django_db

HOSTILE = "Dr\rATTENDEE:mailto:evil@example.invalid\r\nEND:VEVENT\nBEGIN:VEVENT;x=1,y\\z\x07\x1b"
EXPECTED_PROPERTIES = {"UID", "SEQUENCE", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "LOCATION", "URL", "STATUS"}


@pytest.fixture(autouse=True)
def public_url(settings: Settings) -> None:
    settings.CRENEAU_SMS_BACKEND = "creneau.notifications.sms.LocmemSmsBackend"
    settings.CRENEAU_PUBLIC_URL = "https://rdv.creneau.example"


def events(raw: str | bytes) -> list[icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(raw)
    assert {str(k) for k in calendar} <= {"PRODID", "VERSION", "CALSCALE", "METHOD"}
    return [e for e in calendar.walk("VEVENT") if isinstance(e, icalendar.Event)]


def test_hostile_motif_practitioner_and_site_names_inject_no_property(world: World) -> None:
    doc, motif, site = world.doc, world.motif, world.site
    doc.family_name, doc.given_name = HOSTILE, "Jeanne;ORGANIZER:x"
    doc.save(update_fields=["family_name", "given_name"])
    motif.name = HOSTILE
    motif.save(update_fields=["name"])
    site.name, site.city = HOSTILE, "Lyon,\r\nATTENDEE:y"
    site.save(update_fields=["name", "city"])
    appointment = book(world, f.paris(2026, 3, 3, 9, 0))
    outbox.deliver_due()
    downloaded = signed_in(world.user).get(f"/appointments/{appointment.pk}/calendar.ics").content
    attached = mail.outbox[0].attachments[0][1]
    for raw in (downloaded, attached):
        text = raw.decode() if isinstance(raw, bytes) else raw
        assert "\r\nATTENDEE" not in text and "\r\nORGANIZER" not in text and "\x07" not in text and "\x1b" not in text
        (event,) = events(raw)  # one event: no END:VEVENT/BEGIN:VEVENT smuggled in
        assert {str(k) for k in event} == EXPECTED_PROPERTIES
        summary = str(event["SUMMARY"])
        assert "ATTENDEE:mailto:evil@example.invalid" in summary  # kept as text, not as a property
        assert "Jeanne;ORGANIZER:x" in summary
        assert "ATTENDEE:y" in str(event["LOCATION"])


def test_one_uid_per_appointment_whatever_the_route_kept_across_a_move(world: World) -> None:
    appointment = book(world, f.paris(2026, 3, 5, 10, 0))
    web = signed_in(world.user)
    (first_download,) = events(web.get(f"/appointments/{appointment.pk}/calendar.ics").content)
    moved = services.appointment_reschedule(
        actor=world.patient_actor, appointment_id=appointment.pk, new_start=f.paris(2026, 3, 6, 11, 0)
    )
    (moved_download,) = events(web.get(f"/appointments/{moved.pk}/calendar.ics").content)
    services.appointment_cancel(actor=world.patient_actor, appointment_id=moved.pk)
    outbox.deliver_due()
    mailed = {m.subject: events(m.attachments[0][1])[0] for m in mail.outbox if m.attachments}
    uids = {str(first_download["UID"]), str(moved_download["UID"])} | {str(e["UID"]) for e in mailed.values()}
    assert uids == {f"{appointment.pk}@rdv.creneau.example"}
    assert int(str(first_download["SEQUENCE"])) == 0
    assert int(str(moved_download["SEQUENCE"])) == 1
    assert moved_download.decoded("DTSTART") == moved.start_at
    assert sorted(int(str(e["SEQUENCE"])) for e in mailed.values()) == [0, 1, 2]  # booked, moved, cancelled


def test_the_subscribed_feed_has_the_same_uid_and_sequence_and_stops_with_its_link(world: World) -> None:
    appointment = book(world, f.paris(2026, 3, 5, 10, 0))
    web = signed_in(world.user)
    made = web.post("/account/calendar/", {"action": "create"})
    link = made.context["link"]
    path = link.removeprefix("https://rdv.creneau.example")
    assert path.startswith("/calendar/") and path.endswith(".ics")
    (download,) = events(web.get(f"/appointments/{appointment.pk}/calendar.ics").content)
    anonymous = Client()  # a calendar application: no session
    (listed,) = events(anonymous.get(path).content)
    assert str(listed["UID"]) == str(download["UID"]) and int(str(listed["SEQUENCE"])) == 0
    moved = services.appointment_reschedule(
        actor=world.patient_actor, appointment_id=appointment.pk, new_start=f.paris(2026, 3, 6, 11, 0)
    )
    (after_move,) = events(anonymous.get(path).content)  # the old time is not listed twice
    assert str(after_move["UID"]) == str(download["UID"]) and int(str(after_move["SEQUENCE"])) == 1
    assert after_move.decoded("DTSTART") == moved.start_at
    services.appointment_cancel(actor=world.patient_actor, appointment_id=moved.pk)
    (after_cancel,) = events(anonymous.get(path).content)
    assert (str(after_cancel["STATUS"]), int(str(after_cancel["SEQUENCE"]))) == ("CANCELLED", 2)
    assert AuditEvent.objects.filter(via="calendar_feed_create").count() == 1

    web.post("/account/calendar/", {"action": "stop"})
    assert anonymous.get(path).status_code == 404
    assert anonymous.get("/calendar/not-a-link.ics").status_code == 404
