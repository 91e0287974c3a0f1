"""Notification hooks called by other apps inside their own transaction.

Booking calls `on_appointment_booked/cancelled/moved`; accounts/security call `notify_new_login`,
`notify_password_changed`, `notify_mfa_changed`; incident handling calls `notify_incident`. Each only
writes outbox rows (and waiting-list offers), so it commits or rolls back with the event."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
import zoneinfo
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from creneau.accounts.models import User
from creneau.booking.models import Appointment
from creneau.booking.video import ROOM_PLACEHOLDER, is_video
from creneau.core import clock
from creneau.core.actors import Actor

from . import ics, outbox, waitlist
from .models import Kind, MessageChannel, MessageStatus, OutboundMessage, RemindersOff
from .recipients import recipient_for_patient, recipient_for_user
from .rendering import language_of, page_url


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


def days_before(start: dt.datetime, days: int, time_zone: str) -> dt.datetime:
    """The same wall-clock time `days` calendar days before `start` in the site's time zone, as UTC: the
    day-before reminder of a Monday 10:00 visit leaves on Sunday at 10:00 local time, whether or not the
    clocks changed in between (23 or 25 real hours then). A time the spring-forward gap skips is taken
    one hour later, as the clocks show it."""
    zone = zoneinfo.ZoneInfo(time_zone)
    local = start.astimezone(zone)
    wall = dt.datetime.combine(local.date() - dt.timedelta(days=days), local.time())
    return wall.replace(tzinfo=zone).astimezone(dt.UTC)


def reminder_plan(appointment: Appointment, *, booked_at: dt.datetime) -> list[tuple[MessageChannel, str, dt.datetime]]:
    """When each reminder leaves, like the large booking platforms: e-mails 7 days before and the day
    before; one SMS, 2 days before when the booking was made more than 7 days ahead, else the day before.
    Times are wall-clock times in the site's zone (DST-correct); those already past are dropped."""
    zone = appointment.site.time_zone
    plan = [
        (MessageChannel.EMAIL, f"d{days}", days_before(appointment.start_at, days, zone))
        for days in settings.CRENEAU_REMINDER_EMAIL_DAYS
    ]
    early = appointment.start_at - booked_at > dt.timedelta(days=settings.CRENEAU_REMINDER_SMS_EARLY_IF_BOOKED_DAYS)
    sms_days = settings.CRENEAU_REMINDER_SMS_DAYS[0] if early else settings.CRENEAU_REMINDER_SMS_DAYS[1]
    plan.append((MessageChannel.SMS, "sms", days_before(appointment.start_at, sms_days, zone)))
    return [(channel, label, at) for channel, label, at in plan if at > booked_at]


def reminders_enabled(appointment: Appointment) -> bool:
    """Off when switched off for the appointment's agenda, visit reason or patient (one query)."""
    off = RemindersOff.objects.filter(
        Q(agenda__organization_id=appointment.organization_id, agenda__practitioner_id=appointment.practitioner_id)
        | Q(motif_id=appointment.motif_id)
        | Q(patient_id=appointment.patient_id)
    )
    return not off.exists()


def _reminders(appointment: Appointment, recipient: outbox.Recipient) -> list[OutboundMessage]:
    """The reminders of `reminder_plan`, unless switched off (`reminders_switch`). The SMS carries no
    health information (no visit reason, no specialty: see the templates), and the worker sends one
    SMS for several appointments of the same person the same day (outbox.merge_same_day_sms)."""
    if appointment.patient_id is None or not reminders_enabled(appointment):
        return []
    rows: list[OutboundMessage] = []
    context = _context(appointment)
    for channel, label, at in reminder_plan(appointment, booked_at=clock.now()):
        rows += outbox.compose(
            kind=Kind.REMINDER,
            recipient=recipient,
            context=context,
            dedup=f"reminder:{appointment.pk}:{label}",
            time_zone=appointment.site.time_zone,
            send_after=at,
            appointment_id=appointment.pk,
            channels=(channel,),
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


# --- reminder switches ---------------------------------------------------------------------------


def reminders_switch(
    *,
    actor: Actor,
    enabled: bool,
    agenda_id: uuid.UUID | str | None = None,
    motif_id: uuid.UUID | str | None = None,
    patient_id: uuid.UUID | str | None = None,
) -> bool:
    """Switch reminders on or off for one agenda or visit reason (staff who may manage it) or one
    patient (the account holder for a person on their account, or the practice for a patient it knows).
    Off withdraws the pending reminders of that scope in the same transaction; on applies to the
    reminders of bookings made from then on. Confirmations and changes are always sent. Audited; returns
    whether anything changed."""
    from django.utils.translation import gettext as _

    from creneau.audit.models import Action
    from creneau.audit.services import Touched, audit_record
    from creneau.core.actors import AgendaRight
    from creneau.core.errors import InvalidInput
    from creneau.directory.selectors import access_agenda
    from creneau.patients.selectors import access_patient
    from creneau.scheduling.selectors import access_motif

    if sum(x is not None for x in (agenda_id, motif_id, patient_id)) != 1:
        raise InvalidInput(_("Choose one agenda, visit reason or patient."))
    with transaction.atomic():
        if agenda_id is not None:
            agenda = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
            target: dict[str, object] = {"agenda": agenda}
            scope = Q(
                appointment__organization_id=agenda.organization_id, appointment__practitioner_id=agenda.practitioner_id
            )
            touched = Touched(organization_id=agenda.organization_id)
            object_type, object_id = "agenda", agenda.pk
        elif motif_id is not None:
            motif = access_motif(actor, motif_id, AgendaRight.MANAGE)
            target = {"motif": motif}
            scope = Q(appointment__motif_id=motif.pk)
            touched = Touched(organization_id=motif.agenda.organization_id)
            object_type, object_id = "motif", motif.pk
        else:
            patient = access_patient(actor, patient_id)  # type: ignore[arg-type]
            target = {"patient": patient}
            scope = Q(appointment__patient_id=patient.pk)
            touched = Touched(patient_id=patient.pk)
            object_type, object_id = "patient", patient.pk
        rows = RemindersOff.objects.filter(**target)
        if enabled == (not rows.exists()):
            return False
        if enabled:
            rows.delete()
        else:
            RemindersOff.objects.create(**target)
            OutboundMessage.objects.filter(scope, kind=Kind.REMINDER, status=MessageStatus.PENDING).update(
                status=MessageStatus.CANCELLED, updated_at=clock.now()
            )
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type=object_type,
            object_id=object_id,
            via="reminders_switch",
            changes={"reminders": [not enabled, enabled]},
            touched=[touched],
        )
    return True


def reminders_off_for(
    *, agenda_ids: Iterable[uuid.UUID] = (), motif_ids: Iterable[uuid.UUID] = (), patient_ids: Iterable[uuid.UUID] = ()
) -> set[uuid.UUID]:
    """Which of these agendas, visit reasons or patients have reminders switched off (read, for pages)."""
    rows = RemindersOff.objects.filter(
        Q(agenda_id__in=list(agenda_ids)) | Q(motif_id__in=list(motif_ids)) | Q(patient_id__in=list(patient_ids))
    ).values_list("agenda_id", "motif_id", "patient_id")
    return {x for row in rows for x in row if x is not None}
