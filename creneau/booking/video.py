"""Teleconsultation rooms: each booked appointment of a video motif has its own room on the video
service (`CRENEAU_VIDEO_BASE_URL`, e.g. a self-hosted Jitsi).

The room name is a keyed MAC of the appointment's id under the site's secret key: unguessable (160
bits), the same every time it is computed, and never stored. Whoever has the link can join the room,
so the link is a secret: it is given only to the people on the appointment (the account holding the
patient, a parent for a child; the staff who see the practitioner's agenda), computed by the page that
shows it and put in an e-mail only when the e-mail leaves (the outbox row holds `ROOM_PLACEHOLDER`).
A moved appointment is a new row, hence a new room; the old link leads to an empty room."""

from __future__ import annotations

import base64
import uuid

from django.conf import settings
from django.utils.crypto import salted_hmac

from creneau.core.actors import Actor, ActorKind, AgendaRight
from creneau.scheduling.models import VisitChannel

from .models import Appointment, Status

# Stands for the link in stored message bodies and calendar files: only URL-safe characters, so
# neither the e-mail's HTML nor iCalendar escaping touches it.
ROOM_PLACEHOLDER = "VIDEO-ROOM-LINK-SET-WHEN-SENT"
_SALT = "creneau.booking.video_room"


def is_video(appointment: Appointment) -> bool:
    """A booked (or already seen) appointment of a video motif: one that has a room."""
    return appointment.motif.channel == VisitChannel.VIDEO and appointment.status in (
        Status.BOOKED,
        Status.FULFILLED,
    )


def room_name(appointment_id: uuid.UUID) -> str:
    """32 lower-case letters and digits: what a video service accepts as a room name."""
    mac = salted_hmac(_SALT, str(appointment_id), algorithm="sha256").digest()[:20]
    return base64.b32encode(mac).decode().lower()


def room_url(appointment_id: uuid.UUID) -> str:
    return settings.CRENEAU_VIDEO_BASE_URL.rstrip("/") + "/" + room_name(appointment_id)


def video_link_for(actor: Actor, appointment: Appointment) -> str:
    """The room link of an appointment for this actor, or "" when it has none or the actor is not on
    it. The appointment comes from a scoped selector (`access_appointment`, `account_appointments`);
    the check is made again here so that no other read can hand the link out: the account of the
    patient, or staff with the practitioner's agenda in view. API clients and the system get nothing."""
    if not is_video(appointment):
        return ""
    if actor.kind == ActorKind.PATIENT:
        patient = appointment.patient
        if actor.user is None or patient is None or patient.account_id != actor.user.pk:
            return ""
    elif actor.kind == ActorKind.STAFF:
        if not any(
            scope.organization_id == appointment.organization_id
            and scope.practitioner_id == appointment.practitioner_id
            for scope in actor.agendas_with(AgendaRight.VIEW)
        ):
            return ""
    else:
        return ""
    return room_url(appointment.pk)


def with_room_link(appointment_id: uuid.UUID | None, *texts: str) -> list[str]:
    """Texts to send with the placeholder replaced by the appointment's room link (the outbox calls
    this as a message leaves)."""
    if appointment_id is None or not any(ROOM_PLACEHOLDER in t for t in texts):
        return list(texts)
    url = room_url(appointment_id)
    return [t.replace(ROOM_PLACEHOLDER, url) for t in texts]
