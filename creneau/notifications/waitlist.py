"""Waiting list: patients ask for an earlier slot; a freed slot is held for the first in line for
`CRENEAU_WAITLIST_OFFER_MINUTES`, then released and offered to the next.

The offer is a real hold (`booking.services.slot_hold`) placed in the waiting patient's name, so
nobody else can take the slot meanwhile and the patient confirms it with the ordinary `hold_confirm`."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.conf import settings
from django.db import transaction
from django.tasks import task
from django.utils.translation import gettext as _

from creneau.accounts.principals import acting_user
from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record
from creneau.booking.models import Appointment, Status
from creneau.booking.selectors import access_appointment
from creneau.booking.services import SlotRef, hold_confirm, hold_extend, hold_release, slot_hold
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.core.errors import DomainError, InvalidInput, NotFound, PolicyViolation
from creneau.core.ids import parse_id
from creneau.patients.selectors import access_patient
from creneau.scheduling.selectors import online_motif

from . import outbox
from .models import EntryStatus, Kind, OfferStatus, WaitingListEntry, WaitingListOffer
from .recipients import recipient_for_patient
from .rendering import page_url
from .selectors import access_waitlist_entry, access_waitlist_offer

logger = logging.getLogger("creneau.notifications")


def _patient_actor(entry: WaitingListEntry) -> Actor:
    return Actor.for_patient(entry.account, channel=Channel.COMMAND)


def waitlist_join(
    *,
    actor: Actor,
    patient_id: uuid.UUID | str,
    motif_id: uuid.UUID | str,
    site_id: uuid.UUID | str | None = None,
    before: dt.datetime | None = None,
) -> WaitingListEntry:
    """Put a patient of the actor's account on a practitioner's waiting list for a visit reason."""
    account = acting_user(actor)
    if actor.kind != ActorKind.PATIENT or account is None:
        raise PolicyViolation(_("Only a patient account can join a waiting list."))
    patient = access_patient(actor, patient_id)
    motif = online_motif(motif_id)
    if before is not None and before.tzinfo is None:
        raise InvalidInput(_("The date must include a time zone."))
    site = None
    if site_id is not None:
        site = motif.practitioner.sites.filter(pk=parse_id(site_id)).first()
        if site is None:
            raise NotFound(_("This practitioner, visit reason or place does not exist."))
    existing = WaitingListEntry.objects.filter(patient=patient, motif=motif, status=EntryStatus.ACTIVE).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        entry = WaitingListEntry.objects.create(
            account=account,
            patient=patient,
            practitioner_id=motif.practitioner_id,
            motif=motif,
            site=site,
            before=before,
        )
        _audit_entry(actor, Action.CREATE, entry, "waitlist_join")
    return entry


def _audit_entry(actor: Actor, action: str, entry: WaitingListEntry, via: str) -> None:
    """The waiting-list write's audit row (the patient it concerns), in the write's transaction."""
    audit_record(
        actor=actor,
        action=action,
        object_type="waitlist_entry",
        object_id=entry.pk,
        via=via,
        touched=[Touched(patient_id=entry.patient_id)],
    )


def waitlist_join_for_appointment(*, actor: Actor, appointment_id: uuid.UUID | str) -> WaitingListEntry:
    """ "Tell me if an earlier slot frees up" from one of the account's booked appointments: same
    patient, practitioner, visit reason and place, only slots before this appointment."""
    appointment = access_appointment(actor, appointment_id)
    if appointment.status != Status.BOOKED or appointment.patient_id is None or appointment.start_at <= clock.now():
        raise PolicyViolation(_("Only an upcoming booked appointment can be brought forward."))
    return waitlist_join(
        actor=actor,
        patient_id=appointment.patient_id,
        motif_id=appointment.motif_id,
        site_id=appointment.site_id,
        before=appointment.start_at,
    )


@transaction.atomic
def waitlist_leave(*, actor: Actor, entry_id: uuid.UUID | str) -> None:
    """Leave the waiting list (audited; leaving twice writes nothing the second time)."""
    entry = access_waitlist_entry(actor, entry_id)
    if WaitingListEntry.objects.filter(pk=entry.pk, status=EntryStatus.ACTIVE).update(
        status=EntryStatus.CANCELLED, updated_at=clock.now()
    ):
        _audit_entry(actor, Action.CANCEL, entry, "waitlist_leave")


def offer_freed_slot(*, appointment: Appointment) -> WaitingListOffer | None:
    """A booked slot was freed: hold it for the first waiting patient who wants it."""
    return _offer(
        practitioner_id=appointment.practitioner_id,
        motif_id=appointment.motif_id,
        site_id=appointment.site_id,
        start=appointment.start_at,
        skip_patient_id=appointment.patient_id,
    )


def _offer(
    *,
    practitioner_id: uuid.UUID,
    motif_id: uuid.UUID,
    site_id: uuid.UUID,
    start: dt.datetime,
    skip_patient_id: uuid.UUID | None = None,
) -> WaitingListOffer | None:
    now = clock.now()
    if start <= now:
        return None
    already = WaitingListOffer.objects.filter(practitioner_id=practitioner_id, start_at=start).values("entry_id")
    busy = WaitingListOffer.objects.filter(status=OfferStatus.OFFERED, expires_at__gt=now).values("entry_id")
    candidates = (
        WaitingListEntry.objects.filter(practitioner_id=practitioner_id, motif_id=motif_id, status=EntryStatus.ACTIVE)
        .exclude(pk__in=already)
        .exclude(pk__in=busy)
        .select_related("account", "patient")
        .order_by("created_at", "pk")
    )
    for entry in candidates:
        if entry.site_id not in (None, site_id) or (entry.before is not None and start >= entry.before):
            continue
        if entry.patient_id == skip_patient_id or not entry.account.is_active:
            continue
        try:
            with transaction.atomic():
                hold = slot_hold(actor=_patient_actor(entry), slot=SlotRef(practitioner_id, motif_id, site_id, start))
        except DomainError as exc:
            logger.info("waitlist: entry %s skipped (%s)", entry.pk, exc.code)
            continue
        return _make_offer(entry, hold, now)
    return None


def _make_offer(entry: WaitingListEntry, hold: Appointment, now: dt.datetime) -> WaitingListOffer:
    expires = now + dt.timedelta(minutes=settings.CRENEAU_WAITLIST_OFFER_MINUTES)
    # The hold lives as long as the offer (slot_hold gives the shorter booking-form hold).
    hold_extend(actor=_patient_actor(entry), hold_id=hold.pk, until=expires)
    offer = WaitingListOffer.objects.create(
        entry=entry,
        hold=hold,
        practitioner_id=hold.practitioner_id,
        motif_id=hold.motif_id,
        site_id=hold.site_id,
        start_at=hold.start_at,
        expires_at=expires,
    )
    site = hold.site
    outbox.queue(
        kind=Kind.WAITLIST_OFFER,
        recipient=recipient_for_patient(entry.patient),
        context={
            "start": hold.start_at,
            "expires": expires,
            "practitioner": hold.practitioner.display_name,
            "offer_url": page_url("notifications:offer", offer.pk),
        },
        dedup=f"waitlist_offer:{offer.pk}",
        time_zone=site.time_zone,
        appointment_id=hold.pk,
    )
    transaction.on_commit(lambda: _wake_at(expires))
    logger.info("waitlist: offer %s made for entry %s", offer.pk, entry.pk)
    return offer


def _wake_at(when: dt.datetime) -> None:
    try:
        expire_waitlist_offers.using(run_after=when).enqueue()
    except Exception:  # the worker's sweep expires offers anyway
        logger.warning("waitlist: could not enqueue the expiry task; the sweep will expire the offer")


def offers_expire() -> int:
    """Expire offers past their time: release the hold, offer the slot to the next in line."""
    now = clock.now()
    count = 0
    for offer in WaitingListOffer.objects.filter(status=OfferStatus.OFFERED, expires_at__lte=now).select_related(
        "entry__account"
    )[:100]:
        with transaction.atomic():
            if not WaitingListOffer.objects.filter(pk=offer.pk, status=OfferStatus.OFFERED).update(
                status=OfferStatus.EXPIRED, updated_at=now
            ):
                continue  # another worker got it
            if offer.hold_id is not None:
                hold_release(actor=_patient_actor(offer.entry), hold_id=offer.hold_id)
            _offer(
                practitioner_id=offer.practitioner_id,
                motif_id=offer.motif_id,
                site_id=offer.site_id,
                start=offer.start_at,
            )
            count += 1
    return count


def waitlist_offer_accept(*, actor: Actor, offer_id: uuid.UUID | str) -> Appointment:
    """Book the held slot for the waiting patient. Accepting twice returns the same appointment."""
    offer = access_waitlist_offer(actor, offer_id)
    if offer.status == OfferStatus.ACCEPTED and offer.hold_id is not None:
        return Appointment.objects.get(pk=offer.hold_id)
    if offer.status != OfferStatus.OFFERED or offer.expires_at <= clock.now() or offer.hold_id is None:
        raise PolicyViolation(_("This offer has expired; the slot was offered to someone else."))
    with transaction.atomic():
        appointment = hold_confirm(actor=actor, hold_id=offer.hold_id, patient_id=offer.entry.patient_id)
        WaitingListOffer.objects.filter(pk=offer.pk).update(status=OfferStatus.ACCEPTED, updated_at=clock.now())
        WaitingListEntry.objects.filter(pk=offer.entry_id).update(status=EntryStatus.FULFILLED, updated_at=clock.now())
    return appointment


def waitlist_offer_decline(*, actor: Actor, offer_id: uuid.UUID | str) -> None:
    """The patient does not want it: pass it on now rather than at expiry."""
    offer = access_waitlist_offer(actor, offer_id)
    if offer.status != OfferStatus.OFFERED:
        return
    with transaction.atomic():
        if WaitingListOffer.objects.filter(pk=offer.pk, status=OfferStatus.OFFERED).update(
            expires_at=clock.now(), updated_at=clock.now()
        ):
            _audit_entry(actor, Action.CANCEL, offer.entry, "waitlist_offer_decline")
    offers_expire()


@task()
def expire_waitlist_offers() -> int:
    """Release expired waiting-list offers and pass each slot to the next person in line."""
    return offers_expire()
