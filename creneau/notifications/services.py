"""Notification hooks called by other apps inside their own transaction.

Booking calls `on_appointment_booked/cancelled/moved`; accounts/security call `notify_new_login`,
`notify_password_changed`, `notify_mfa_changed`; incident handling calls `notify_incident`. Each only
writes outbox rows (and waiting-list offers), so it commits or rolls back with the event."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction

from creneau.accounts.models import User
from creneau.booking.models import Appointment
from creneau.booking.video import ROOM_PLACEHOLDER, is_video
from creneau.core import clock
from creneau.core.actors import Actor
from creneau.patients.models import Patient, Relationship

from . import ics, outbox, waitlist
from .models import Kind, MessageChannel, OutboundMessage
from .rendering import language_of, page_url


def recipient_for_patient(patient: Patient) -> outbox.Recipient:
    """Messages about a patient go to the account managing them (a parent for a child), else to the
    contact details the practice recorded."""
    user = patient.account
    if user is None:
        return outbox.Recipient(user_id=None, email=patient.email, phone=patient.phone, language="fr")
    # Text messages go only to a number its owner confirmed with a code (patients may type anything).
    phone = patient.phone if patient.relationship == Relationship.SELF and patient.phone_verified_at else ""
    if not phone:
        # Load the row (not values_list): an encrypted field opens only on its own instance.
        holder = Patient.objects.filter(account=user, relationship=Relationship.SELF).first()
        phone = holder.phone if holder is not None and holder.phone_verified_at else ""
    return outbox.Recipient(user_id=user.pk, email=user.email, phone=phone, language=language_of(user.language))


def recipient_for_user(user: User) -> outbox.Recipient:
    return outbox.Recipient(user_id=user.pk, email=user.email, phone="", language=language_of(user.language))


def _load(appointment_id: uuid.UUID) -> Appointment:
    return Appointment.objects.select_related("practitioner", "site", "motif", "patient__account").get(
        pk=appointment_id
    )


def _context(appointment: Appointment) -> dict[str, object]:
    site = appointment.site
    patient = appointment.patient
    return {
        "who": patient.given_name if patient is not None else "",
        "start": appointment.start_at,
        "end": appointment.end_at,
        "practitioner": appointment.practitioner.display_name,
        "motif": appointment.motif.name,
        # E-mail only (the SMS templates never show it): documents to bring, fasting.
        "instructions": appointment.motif.instructions,
        "site_name": site.name,
        "address": f"{site.address}, {site.postcode} {site.city}",
        "account_url": page_url("web:account_appointment", appointment.pk, fallback="/"),
        # A teleconsultation's room link is a secret: stored as the placeholder, put in as the e-mail
        # leaves (`outbox._send`), like the account links' tokens.
        "video_url": ROOM_PLACEHOLDER if is_video(appointment) else "",
    }


def _ics(appointment: Appointment, *, cancelled: bool = False) -> str:
    """The attachment: the same builder, UID and SEQUENCE as the web download (notifications/ics.py);
    a teleconsultation's place is its room link, left as the placeholder until the e-mail leaves."""
    url = page_url("web:account_appointment", appointment.pk, fallback="/")
    video_url = ROOM_PLACEHOLDER if is_video(appointment) else ""
    return ics.appointment_calendar(appointment, url=url, cancelled=cancelled, video_url=video_url)


def _reminders(appointment: Appointment, recipient: outbox.Recipient) -> list[OutboundMessage]:
    """One reminder per `CRENEAU_REMINDER_HOURS` offset: real elapsed hours before the UTC start, so
    a DST change in between neither shifts nor drops it. Offsets already past are skipped."""
    now = clock.now()
    rows: list[OutboundMessage] = []
    for hours in settings.CRENEAU_REMINDER_HOURS:
        at = appointment.start_at - dt.timedelta(hours=hours)
        if at <= now:
            continue
        rows += outbox.compose(
            kind=Kind.REMINDER,
            recipient=recipient,
            context=_context(appointment),
            dedup=f"reminder:{appointment.pk}:{hours}h",
            time_zone=appointment.site.time_zone,
            send_after=at,
            appointment_id=appointment.pk,
        )
    return rows


def booking_messages(appointment: Appointment) -> list[OutboundMessage]:
    """The confirmation (e-mail with .ics, SMS) and the reminders of a booking, rendered but not
    stored: the booking renders them before its transaction and stores them inside it."""
    if appointment.patient is None:
        return []
    recipient = recipient_for_patient(appointment.patient)
    confirmation = outbox.compose(
        kind=Kind.BOOKING_CONFIRMATION,
        recipient=recipient,
        context=_context(appointment),
        dedup=f"booked:{appointment.pk}",
        time_zone=appointment.site.time_zone,
        appointment_id=appointment.pk,
        ics=_ics(appointment),
    )
    return confirmation + _reminders(appointment, recipient)


def on_appointment_booked(
    *, appointment_id: uuid.UUID, actor: Actor, appointment: Appointment | None = None, fresh: bool = False
) -> None:
    """Listener of `appointment.booked`: confirmation now (e-mail with .ics, SMS) and reminders later.
    The booking's own row is used when the event carries it (no second read)."""
    outbox.store(booking_messages(appointment or _load(appointment_id)), fresh=fresh)


def on_appointment_cancelled(*, appointment_id: uuid.UUID, actor: Actor) -> None:
    """Listener of `appointment.cancelled`: withdraw its reminders, tell the patient, offer the freed
    slot to the waiting list."""
    appointment = _load(appointment_id)
    outbox.cancel_pending(appointment_id=appointment.pk, kinds=[Kind.REMINDER])
    if appointment.patient is not None:
        outbox.queue(
            kind=Kind.CANCELLATION,
            recipient=recipient_for_patient(appointment.patient),
            context=_context(appointment),
            dedup=f"cancelled:{appointment.pk}",
            time_zone=appointment.site.time_zone,
            appointment_id=appointment.pk,
            ics=_ics(appointment, cancelled=True),
        )
    waitlist.offer_freed_slot(appointment=appointment)


def on_appointment_moved(*, old_appointment_id: uuid.UUID, new_appointment_id: uuid.UUID, actor: Actor) -> None:
    """Listener of `appointment.moved`: one "moved" message (new .ics), reminders follow the new time,
    the old slot goes to the list."""
    old = _load(old_appointment_id)
    new = _load(new_appointment_id)
    outbox.cancel_pending(appointment_id=old.pk, kinds=[Kind.REMINDER])
    if new.patient is not None:
        recipient = recipient_for_patient(new.patient)
        moved = outbox.compose(
            kind=Kind.MOVE,
            recipient=recipient,
            context={**_context(new), "old_start": old.start_at},
            dedup=f"moved:{new.pk}",
            time_zone=new.site.time_zone,
            appointment_id=new.pk,
            ics=_ics(new),
        )
        outbox.store(moved + _reminders(new, recipient))
    waitlist.offer_freed_slot(appointment=old)


# --- account security and incidents -----------------------------------------------------------


def _security(user: User, kind: Kind, when: dt.datetime | None) -> None:
    outbox.queue(
        kind=kind,
        recipient=recipient_for_user(user),
        context={"when": when or clock.now()},
        dedup=f"{kind}:{user.pk}:{uuid.uuid4()}",
        channels=[MessageChannel.EMAIL],
    )


def send_phone_code(*, phone: str, code: str, language: str, dedup: str) -> None:
    """The SMS carrying a phone confirmation code, to the number being confirmed. Not listed in the
    account's messages (no user): reading the code there would prove nothing about the phone."""
    outbox.queue(
        kind=Kind.PHONE_VERIFICATION,
        recipient=outbox.Recipient(user_id=None, email="", phone=phone, language=language_of(language)),
        context={"phone_code": code},
        dedup=f"phone-code:{dedup}",
        channels=[MessageChannel.SMS],
    )


def notify_new_login(*, user: User, when: dt.datetime | None = None) -> None:
    """A sign-in from a new device/browser (the caller decides what "new" means)."""
    _security(user, Kind.SECURITY_NEW_LOGIN, when)


def notify_password_changed(*, user: User, when: dt.datetime | None = None) -> None:
    _security(user, Kind.SECURITY_PASSWORD_CHANGED, when)


def notify_mfa_changed(*, user: User, when: dt.datetime | None = None) -> None:
    _security(user, Kind.SECURITY_MFA_CHANGED, when)


def notify_incident(*, actor: Actor, user_ids: Iterable[uuid.UUID], reference: str) -> int:
    """Tell each affected account that an incident may concern it. The message carries only a
    reference; the explanation lives in the account. Replaying with the same reference is harmless."""
    count = 0
    for user in User.objects.filter(pk__in=list(user_ids), is_active=True):
        count += len(
            outbox.queue(
                kind=Kind.INCIDENT_NOTICE,
                recipient=recipient_for_user(user),
                context={"reference": reference},
                dedup=f"incident:{reference}:{user.pk}",
                channels=[MessageChannel.EMAIL],
            )
        )
    return count


# --- calendar subscription (one link per account) ----------------------------------------------------


def calendar_feed_create(*, actor: Actor, user: User) -> str:
    """Make the account's calendar subscription link (replacing any previous one, which stops working)
    and return its token, shown once. Audited (identifiers only)."""
    from creneau.audit.models import Action
    from creneau.audit.services import audit_record

    from .models import CalendarFeed
    from .selectors import calendar_token_hash

    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        replaced = CalendarFeed.objects.filter(user=user).delete()[0] > 0
        feed = CalendarFeed.objects.create(user=user, token_hash=calendar_token_hash(token))
        audit_record(
            actor=actor,
            action=Action.CREATE,
            object_type="calendar_feed",
            object_id=feed.pk,
            via="calendar_feed_create",
            changes={"replaced": replaced},
        )
    return token


def calendar_feed_stop(*, actor: Actor, user: User) -> bool:
    """Stop the account's calendar subscription link; audited. False (nothing written) if none."""
    from creneau.audit.models import Action
    from creneau.audit.services import audit_record

    from .models import CalendarFeed

    with transaction.atomic():
        feed = CalendarFeed.objects.filter(user=user).first()
        if feed is None:
            return False
        feed_pk = feed.pk
        feed.delete()
        audit_record(
            actor=actor, action=Action.DELETE, object_type="calendar_feed", object_id=feed_pk, via="calendar_feed_stop"
        )
    return True
