"""iCalendar (RFC 5545) files of appointments, built with the `icalendar` package: the one builder for
the e-mail attachments and the web download.

Every text value goes through `icalendar`, which escapes backslashes, commas, semicolons and line breaks
(bare CR included), after other control characters are dropped: a motif, practitioner or site name
cannot add a property (`ATTENDEE:…`) to a patient's calendar. One UID per appointment whatever the
route, kept across moves (the first booking of the chain) with a SEQUENCE that grows at each move and at
the cancellation, so calendars update the event in place."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import icalendar
from django.conf import settings

from creneau.booking.models import Appointment, Status
from creneau.core import clock

PRODID = "-//creneau//appointments//FR"
# C0 controls and DEL, except HTAB and LF (CR is turned into LF first): RFC 5545 TEXT forbids them.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A chain of moves longer than this is cut (the UID is then the oldest one reached).
_MAX_MOVES = 50


def domain() -> str:
    return urlsplit(settings.CRENEAU_PUBLIC_URL).hostname or "localhost"


def clean(text: str) -> str:
    """Text safe for an iCalendar value: line breaks normalized, other control characters dropped."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def identity(appointment: Appointment) -> tuple[str, int]:
    """(UID, SEQUENCE) of an appointment: the first booking of its chain of moves, and the number of moves."""
    root, sequence = appointment.pk, 0
    previous = appointment.rescheduled_from_id
    while previous is not None and sequence < _MAX_MOVES:
        root, sequence = previous, sequence + 1
        previous = Appointment.objects.filter(pk=previous).values_list("rescheduled_from_id", flat=True).first()
    return f"{root}@{domain()}", sequence


def _calendar(method: str) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    return calendar


def _event(
    appointment: Appointment, *, url: str, cancelled: bool, stamp: dt.datetime | None, video_url: str = ""
) -> icalendar.Event:
    uid, sequence = identity(appointment)
    site = appointment.site
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("sequence", sequence + (1 if cancelled else 0))
    event.add("dtstamp", (stamp or clock.now()).astimezone(dt.UTC))
    event.add("dtstart", appointment.start_at.astimezone(dt.UTC))
    event.add("dtend", appointment.end_at.astimezone(dt.UTC))
    event.add("summary", clean(appointment.practitioner.display_name))
    if video_url and not cancelled:
        # A teleconsultation takes place in its room: the link is where calendars put a place, and in
        # RFC 7986's CONFERENCE property, which calendar applications offer to join.
        event.add("location", video_url)
        event.add("conference", video_url, parameters={"VALUE": "URI", "FEATURE": "VIDEO"})
    else:
        event.add("location", clean(f"{site.name}, {site.address}, {site.postcode} {site.city}"))
    event.add("url", url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    return event


def appointment_calendar(
    appointment: Appointment,
    *,
    url: str,
    cancelled: bool | None = None,
    stamp: dt.datetime | None = None,
    video_url: str = "",
) -> str:
    """A calendar with the appointment's one event (METHOD:CANCEL and STATUS:CANCELLED once cancelled).
    No visit reason in the summary or description: calendars are often synchronised to third-party clouds.
    `video_url`: the teleconsultation's room link (or the outbox's placeholder for it), as the place."""
    if cancelled is None:
        cancelled = appointment.status == Status.CANCELLED
    calendar = _calendar("CANCEL" if cancelled else "PUBLISH")
    calendar.add_component(_event(appointment, url=url, cancelled=cancelled, stamp=stamp, video_url=video_url))
    return calendar.to_ical().decode()


def with_room_link(text: str, placeholder: str, url: str) -> str:
    """A stored calendar file with the room link put in where it holds `placeholder` (the e-mail's
    attachment, as it leaves). Parsed and written again rather than searched: a long line may have
    been folded in the middle of the placeholder, and the longer link must be folded anew."""
    if placeholder not in text.replace("\r\n ", "").replace("\r\n\t", ""):
        return text
    calendar = icalendar.Calendar.from_ical(text)
    for event in calendar.walk("VEVENT"):
        for name in ("LOCATION", "CONFERENCE", "DESCRIPTION"):
            value = event.get(name)
            if value is None or placeholder not in str(value):
                continue
            new = type(value)(str(value).replace(placeholder, url))
            new.params = value.params
            event[name] = new
    return calendar.to_ical().decode()


def feed_calendar(
    appointments: list[Appointment],
    *,
    url_of: Callable[[Appointment], str],
    video_url_of: Callable[[Appointment], str] = lambda a: "",
) -> str:
    """A subscribed calendar: one event per appointment, with the same UID and SEQUENCE as its download
    and its e-mails (a moved appointment appears once, at its new time; a cancelled one as CANCELLED,
    so the subscribing calendar removes it)."""
    calendar = _calendar("PUBLISH")
    for appointment in appointments:
        cancelled = appointment.status == Status.CANCELLED
        calendar.add_component(
            _event(
                appointment,
                url=url_of(appointment),
                cancelled=cancelled,
                stamp=None,
                video_url=video_url_of(appointment),
            )
        )
    return calendar.to_ical().decode()
