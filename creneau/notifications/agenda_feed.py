"""A private, revocable calendar link per practitioner agenda (`AgendaCalendarFeed`).

Made or stopped by staff who may manage the agenda; only the token's SHA-256 is stored and the link
is shown once. By default each event says "appointment" and nothing else (calendars are synchronised
to third-party clouds): patients' names and visit reasons appear only when the agenda's own
practitioner chooses so. Every fetch of a link with names is an audited read of those patients."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

import icalendar
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from creneau.accounts.principals import acting_user
from creneau.accounts.selectors import is_agenda_practitioner
from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record
from creneau.booking.models import Appointment, Status
from creneau.core import clock
from creneau.core.actors import Actor, AgendaRight, Channel
from creneau.core.errors import PermissionDenied
from creneau.directory.models import Agenda
from creneau.directory.selectors import access_agenda

from . import ics
from .models import AgendaCalendarFeed
from .rendering import language_of
from .selectors import calendar_token_hash

FEED_DAYS_BACK = 30
FEED_MAX_EVENTS = 2000


def is_own_agenda(actor: Actor, agenda: Agenda) -> bool:
    """Whether the actor is the agenda's practitioner (the one who may show patients' names)."""
    return is_agenda_practitioner(actor, agenda)


def agenda_feed_create(*, actor: Actor, agenda_id: uuid.UUID | str, with_details: bool = False) -> str:
    """Make the agenda's calendar link (replacing any previous one, which stops working) and return its
    token, shown once. `with_details` (patients' names and visit reasons) only by the practitioner."""
    agenda = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
    if with_details and not is_own_agenda(actor, agenda):
        raise PermissionDenied(_("Only the practitioner may show patients' names in their calendar link."))
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        replaced = AgendaCalendarFeed.objects.filter(agenda=agenda).delete()[0] > 0
        feed = AgendaCalendarFeed.objects.create(
            agenda=agenda,
            token_hash=calendar_token_hash(token),
            with_details=with_details,
            created_by=acting_user(actor),
        )
        audit_record(
            actor=actor,
            action=Action.CREATE,
            object_type="agenda_calendar_feed",
            object_id=feed.pk,
            via="agenda_feed_create",
            changes={"replaced": replaced, "with_details": with_details},
        )
    return token


def agenda_feed_stop(*, actor: Actor, agenda_id: uuid.UUID | str) -> bool:
    """Stop the agenda's calendar link; audited. False (nothing written) if there is none."""
    agenda = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
    with transaction.atomic():
        feed = AgendaCalendarFeed.objects.filter(agenda=agenda).first()
        if feed is None:
            return False
        feed_pk = feed.pk
        feed.delete()
        audit_record(
            actor=actor,
            action=Action.DELETE,
            object_type="agenda_calendar_feed",
            object_id=feed_pk,
            via="agenda_feed_stop",
        )
    return True


def agenda_feed_of(actor: Actor, agenda: Agenda) -> AgendaCalendarFeed | None:
    """The agenda's current link (no token: only its existence and settings), for its settings page."""
    return AgendaCalendarFeed.objects.filter(agenda=agenda).first()


def agenda_feed_calendar(token: str) -> str | None:
    """The iCalendar text of the agenda whose link carries `token`, or None (unknown or stopped link,
    closed agenda). Events from 30 days back; cancelled ones as CANCELLED so calendars drop them."""
    feed = (
        AgendaCalendarFeed.objects.select_related("agenda", "agenda__practitioner", "created_by")
        .filter(token_hash=calendar_token_hash(token or ""))
        .first()
    )
    if feed is None or not feed.agenda.is_active:
        return None
    agenda = feed.agenda
    AgendaCalendarFeed.objects.filter(pk=feed.pk).update(last_read_at=clock.now())
    since = clock.now() - dt.timedelta(days=FEED_DAYS_BACK)
    rows = list(
        Appointment.objects.filter(
            organization_id=agenda.organization_id,
            practitioner_id=agenda.practitioner_id,
            start_at__gte=since,
            rescheduled_to__isnull=True,
        )
        .exclude(status=Status.HELD)
        .select_related("site", "motif", "practitioner", *(("patient",) if feed.with_details else ()))
        .order_by("start_at")[:FEED_MAX_EVENTS]
    )
    if feed.with_details:
        touched = [Touched(a.patient_id, a.pk, a.organization_id) for a in rows if a.patient_id]
        if touched:
            audit_record(
                actor=Actor.system(Channel.WEB),
                action=Action.READ,
                object_type="appointment",
                via="agenda_feed",
                touched=touched,
                changes={"feed": str(feed.pk)},
            )
    calendar = icalendar.Calendar()
    calendar.add("prodid", ics.PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", ics.clean(agenda.practitioner.display_name))
    with translation.override(language_of(getattr(feed.created_by, "language", None))):
        default_summary = _("Appointment")
    for a in rows:
        uid, sequence = ics.identity(a)
        cancelled = a.status == Status.CANCELLED
        event = icalendar.Event()
        event.add("uid", f"agenda-{uid}")
        event.add("sequence", sequence + (1 if cancelled else 0))
        event.add("dtstamp", clock.now().astimezone(dt.UTC))
        event.add("dtstart", a.start_at.astimezone(dt.UTC))
        event.add("dtend", a.end_at.astimezone(dt.UTC))
        summary = default_summary
        if feed.with_details:
            who = f"{a.patient.family_name.upper()} {a.patient.given_name}" if a.patient else ""
            summary = " — ".join(part for part in (who, a.motif.name) if part) or default_summary
        event.add("summary", ics.clean(summary))
        event.add("location", ics.clean(f"{a.site.name}, {a.site.city}"))
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical().decode()
