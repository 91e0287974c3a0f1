"""The .ics download of one appointment: the notifications' builder (one UID whatever the route)."""

from __future__ import annotations

from creneau.booking.models import Appointment
from creneau.notifications import ics
from creneau.notifications.rendering import page_url


def render_appointment(a: Appointment, *, video_url: str = "") -> str:
    return ics.appointment_calendar(a, url=page_url("web:account_appointment", a.pk), video_url=video_url)
