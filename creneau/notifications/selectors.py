"""Reads for the patient account: the messages we sent it, checking a code from a message, and its
waiting-list entries and offers (each only for the account it belongs to)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from creneau.accounts.principals import acting_user
from creneau.audit.detection import refuse_if_suspended
from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record, record_not_found
from creneau.booking.models import Appointment, Status
from creneau.booking.selectors import appointments_visible_to
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.core.errors import NotFound
from creneau.core.ids import parse_id

if TYPE_CHECKING:
    from creneau.accounts.models import User

from .models import EntryStatus, MessageStatus, OutboundMessage, WaitingListEntry, WaitingListOffer
from .rendering import normalize_code

VISIBLE = (MessageStatus.SENT, MessageStatus.SENDING)


def messages_sent_to_account(actor: Actor, *, limit: int = 100) -> list[OutboundMessage]:
    """The account's own messages that left (or are leaving) our servers, newest first."""
    user = acting_user(actor)
    if user is None:
        return []
    return list(
        OutboundMessage.objects.filter(user=user, status__in=VISIBLE)
        .only("id", "kind", "channel", "subject", "code", "sent_at", "created_at", "status")
        .order_by("-created_at")[:limit]
    )


def message_verify(actor: Actor, code: str) -> list[OutboundMessage]:
    """Messages of this account carrying `code` (empty: we did not send a message with this code)."""
    user = acting_user(actor)
    if user is None:
        return []
    return list(
        OutboundMessage.objects.filter(user=user, status__in=VISIBLE, code=normalize_code(code)).order_by("-created_at")
    )


def _account_of(actor: Actor) -> User | None:
    """The patient account whose waiting lists the actor may see (only its own)."""
    return acting_user(actor) if actor.kind == ActorKind.PATIENT else None


def waitlist_entries_of_account(actor: Actor) -> list[WaitingListEntry]:
    """The account's active waiting-list entries, oldest first (each names a patient: one audited read
    listing them)."""
    refuse_if_suspended(actor)
    account = _account_of(actor)
    if account is None:
        return []
    entries = list(
        WaitingListEntry.objects.filter(account=account, status=EntryStatus.ACTIVE)
        .select_related("practitioner", "motif", "site", "patient")
        .order_by("created_at")
    )
    if entries:
        audit_record(
            actor=actor,
            action=Action.SEARCH,
            object_type="waitlist_entry",
            via="waitlist_entries_of_account",
            touched=[Touched(patient_id=e.patient_id) for e in entries],
        )
    return entries


def access_waitlist_entry(actor: Actor, entry_id: uuid.UUID | str) -> WaitingListEntry:
    """A waiting-list entry of the actor's own account. It names a patient and the practitioner they
    wait for: the read is audited; an entry of another account answers exactly as a missing id."""
    refuse_if_suspended(actor)
    account = _account_of(actor)
    try:
        if account is None:
            raise WaitingListEntry.DoesNotExist
        entry = WaitingListEntry.objects.select_related("practitioner", "motif", "site").get(
            pk=parse_id(entry_id), account=account
        )
    except (WaitingListEntry.DoesNotExist, NotFound) as exc:
        record_not_found(actor, object_type="waitlist_entry", via="access_waitlist_entry")
        raise NotFound(_("Unknown waiting list entry.")) from exc
    audit_record(
        actor=actor,
        action=Action.READ,
        object_type="waitlist_entry",
        object_id=entry.pk,
        via="access_waitlist_entry",
        touched=[Touched(patient_id=entry.patient_id)],
    )
    return entry


def access_waitlist_offer(actor: Actor, offer_id: uuid.UUID | str) -> WaitingListOffer:
    """An offer, only for the account it was made to (audited: it names the waiting patient)."""
    refuse_if_suspended(actor)
    account = _account_of(actor)
    try:
        if account is None:
            raise WaitingListOffer.DoesNotExist
        offer = WaitingListOffer.objects.select_related("entry", "practitioner", "site", "motif").get(
            pk=parse_id(offer_id), entry__account=account
        )
    except (WaitingListOffer.DoesNotExist, NotFound) as exc:
        record_not_found(actor, object_type="waitlist_offer", via="access_waitlist_offer")
        raise NotFound(_("Unknown offer.")) from exc
    audit_record(
        actor=actor,
        action=Action.READ,
        object_type="waitlist_offer",
        object_id=offer.pk,
        via="access_waitlist_offer",
        touched=[Touched(patient_id=offer.entry.patient_id, appointment_id=offer.hold_id)],
    )
    return offer


def calendar_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def calendar_feed_appointments(token: str) -> list[Appointment] | None:
    """The appointments of the account whose calendar link carries `token` (None for an unknown or
    stopped link): its holder's and relatives' from 90 days back, a moved one only at its new time.
    Read as the account holder, so the trail shows it like the account page."""
    from .models import CalendarFeed

    feed = CalendarFeed.objects.select_related("user").filter(token_hash=calendar_token_hash(token or "")).first()
    if feed is None or not feed.user.is_active:
        return None
    CalendarFeed.objects.filter(pk=feed.pk).update(last_read_at=clock.now())
    actor = Actor.for_patient(feed.user, channel=Channel.WEB)
    since = clock.now() - dt.timedelta(days=90)
    return list(
        appointments_visible_to(actor)
        .exclude(status=Status.HELD)
        .filter(start_at__gte=since, rescheduled_to__isnull=True)
        .order_by("start_at")[:500]
    )


def calendar_feed_active(user: User) -> bool:
    """Whether the account has a calendar subscription link (its own page)."""
    from .models import CalendarFeed

    return CalendarFeed.objects.filter(user=user).exists()
