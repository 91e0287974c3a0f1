"""iCalendar (RFC 5545) attachments: one event per appointment, UID stable so updates replace it."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from django.conf import settings


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines longer than 75 octets are folded (RFC 5545 §3.1)."""
    out, current = [], ""
    for char in line:
        if len((current + char).encode()) > 75:
            out.append(current)
            current = " " + char
        else:
            current += char
    out.append(current)
    return "\r\n".join(out)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def domain() -> str:
    return urlsplit(settings.CRENEAU_PUBLIC_URL).hostname or "localhost"


def appointment_ics(
    *,
    uid: str,
    sequence: int = 0,
    start: dt.datetime,
    end: dt.datetime,
    summary: str,
    location: str,
    url: str,
    stamp: dt.datetime,
    cancelled: bool = False,
) -> str:
    """A calendar with one event (METHOD:CANCEL and STATUS:CANCELLED for a cancellation). No visit
    reason in the summary: calendars are often synchronised to third-party clouds."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//creneau//notifications//FR",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if cancelled else 'PUBLISH'}",
        "BEGIN:VEVENT",
        f"UID:{uid}@{domain()}",
        f"SEQUENCE:{sequence}",
        f"DTSTAMP:{_utc(stamp)}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(end)}",
        f"SUMMARY:{_escape(summary)}",
        f"LOCATION:{_escape(location)}",
        f"URL:{url}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
