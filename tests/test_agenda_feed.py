"""A private, revocable calendar link per practitioner agenda: only the token's hash is stored, the
feed is valid iCalendar (parsed with the `icalendar` package), it shows no patient name unless the
practitioner chose so, and a stopped or replaced link is a 404."""

from __future__ import annotations

import hashlib
import re

import icalendar
import pytest

from creneau.accounts.models import Role
from creneau.audit.models import AuditEvent
from creneau.booking import services
from creneau.booking.services import SlotRef
from creneau.core.errors import NotFound, PermissionDenied
from creneau.notifications import agenda_feed
from creneau.notifications.models import AgendaCalendarFeed

from . import factories as f
from .personas import World
from .web_support import signed_in

pytestmark = pytest.mark.django_db


def _book(world: World, day: int, hour: int = 9) -> object:
    slot = SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, day, hour, 0))
    return services.appointment_book(actor=world.secretary, slot=slot, patient_id=world.caller.pk)


def _feed(token: str) -> icalendar.Calendar:
    response = signed_in(f.user_of(f.staff(f.organization("Nobody")))).get(f"/agenda-calendar/{token}.ics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    return icalendar.Calendar.from_ical(response.content)


def test_the_link_is_shown_once_and_only_its_hash_is_stored(world: World) -> None:
    page = signed_in(f.user_of(world.secretary)).post(f"/en/practice/agenda/{world.agenda.pk}/calendar/", {})
    html = page.content.decode()
    match = re.search(r"/agenda-calendar/([\w-]+)\.ics", html)
    assert page.status_code == 200 and match
    token = match.group(1)
    feed = AgendaCalendarFeed.objects.get(agenda=world.agenda)
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in feed.token_hash
    again = (
        signed_in(f.user_of(world.secretary)).get(f"/en/practice/agenda/{world.agenda.pk}/calendar/").content.decode()
    )
    assert token not in again and "A link is active" in again


def test_the_feed_is_valid_icalendar_without_patient_names_by_default(world: World) -> None:
    kept, cancelled = _book(world, 3), _book(world, 4)
    services.appointment_cancel(actor=world.secretary, appointment_id=cancelled.pk)  # type: ignore[attr-defined]
    token = agenda_feed.agenda_feed_create(actor=world.secretary, agenda_id=world.agenda.pk)
    calendar = _feed(token)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 2
    body = calendar.to_ical().decode()
    assert "Appelant" not in body and "APPELANT" not in body and world.motif.name not in body
    statuses = {str(e["STATUS"]) for e in events}
    assert statuses == {"CONFIRMED", "CANCELLED"}
    first = events[0]
    assert first.decoded("DTSTART") == kept.start_at  # type: ignore[attr-defined]
    assert str(first["SUMMARY"]) == "Rendez-vous"


def test_only_the_practitioner_may_show_patient_names_and_that_read_is_audited(world: World) -> None:
    _book(world, 3)
    with pytest.raises(PermissionDenied):
        agenda_feed.agenda_feed_create(actor=world.secretary, agenda_id=world.agenda.pk, with_details=True)
    assert not AgendaCalendarFeed.objects.exists()
    doc_actor = f.staff(world.org, Role.PRACTITIONER, practitioner=world.doc)
    token = agenda_feed.agenda_feed_create(actor=doc_actor, agenda_id=world.agenda.pk, with_details=True)
    before = AuditEvent.objects.filter(via="agenda_feed").count()
    body = _feed(token).to_ical().decode()
    assert "APPELANT Paul" in body and world.motif.name in body
    assert AuditEvent.objects.filter(via="agenda_feed").count() == before + 1


def test_a_stopped_or_replaced_link_is_a_404(world: World) -> None:
    old = agenda_feed.agenda_feed_create(actor=world.secretary, agenda_id=world.agenda.pk)
    new = agenda_feed.agenda_feed_create(actor=world.secretary, agenda_id=world.agenda.pk)
    client = signed_in(world.user)
    assert client.get(f"/agenda-calendar/{old}.ics").status_code == 404
    assert client.get(f"/agenda-calendar/{new}.ics").status_code == 200
    page = signed_in(f.user_of(world.secretary)).post(
        f"/en/practice/agenda/{world.agenda.pk}/calendar/", {"action": "stop"}
    )
    assert page.status_code == 302
    assert client.get(f"/agenda-calendar/{new}.ics").status_code == 404
    assert client.get("/agenda-calendar/made-up.ics").status_code == 404


def test_another_organization_cannot_make_a_link_for_this_agenda(world: World) -> None:
    with pytest.raises(NotFound):
        agenda_feed.agenda_feed_create(actor=world.outsider, agenda_id=world.agenda.pk)
    assert (
        signed_in(f.user_of(world.outsider)).get(f"/en/practice/agenda/{world.agenda.pk}/calendar/").status_code == 404
    )
    assert not AgendaCalendarFeed.objects.exists()
