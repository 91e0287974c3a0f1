"""iCalendar (RFC 5545) export of one appointment."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from creneau.booking.models import Appointment
from creneau.core import clock


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    current = b""
    for ch in line:
        b = ch.encode()
        if len(current) + len(b) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += b
    parts.append(current.decode())
    return "\r\n ".join(parts)


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def render_appointment(a: Appointment) -> str:
    summary = _("Appointment with %(name)s") % {"name": a.practitioner.display_name}
    location = f"{a.site.name}, {a.site.address}, {a.site.postcode} {a.site.city}"
    status = "CANCELLED" if a.status == "cancelled" else "CONFIRMED"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//creneau//appointments//FR",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{a.pk}@creneau",
        f"DTSTAMP:{_utc(clock.now())}",
        f"DTSTART:{_utc(a.start_at)}",
        f"DTEND:{_utc(a.end_at)}",
        f"SUMMARY:{_escape(summary)}",
        f"DESCRIPTION:{_escape(a.motif.name)}",
        f"LOCATION:{_escape(location)}",
        f"STATUS:{status}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
