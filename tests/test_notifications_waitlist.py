"""Waiting list: a cancellation holds the freed slot for the first waiting patient, the offer
expires and passes to the next, and an accepted offer becomes a booking."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from django.core import mail
from django.test import Client
from django.utils import translation
from pytest_django.fixtures import Settings

from creneau.accounts.models import User
from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.core import clock
from creneau.core.actors import Actor
from creneau.core.errors import Conflict, PolicyViolation
from creneau.notifications import outbox, waitlist
from creneau.notifications.models import (
    EntryStatus,
    Kind,
    MessageStatus,
    OfferStatus,
    OutboundMessage,
    WaitingListEntry,
    WaitingListOffer,
)
from creneau.notifications.sms import LocmemSmsBackend
from creneau.patients.models import Patient

from . import factories as f
from .notif_support import book
from .personas import World, personas_of

pytestmark = pytest.mark.django_db
SLOT = (2026, 3, 3, 9, 0)


@pytest.fixture(autouse=True)
def locmem_sms(settings: Settings) -> Iterator[None]:
    settings.CRENEAU_SMS_BACKEND = "creneau.notifications.sms.LocmemSmsBackend"
    LocmemSmsBackend.reset()
    yield
    LocmemSmsBackend.reset()


@dataclasses.dataclass(frozen=True)
class Queue(World):
    """The world plus Bob's booked slot and two patients waiting for an earlier one (Alice first)."""

    bob_actor: Actor
    booked: Appointment
    carol_user: User
    carol: Patient
    carol_actor: Actor
    alice_entry: WaitingListEntry
    carol_entry: WaitingListEntry


@pytest.fixture
def queue(world: World) -> Queue:
    """Bob holds Tuesday 09:00; Alice (world patient) then Carol wait for an earlier slot."""
    _bob_user, bob, bob_actor = f.patient_account(given_name="Bob")
    booked = book(world, f.paris(*SLOT), actor=bob_actor, patient=bob)
    carol_user, carol, carol_actor = f.patient_account(given_name="Carol")
    alice_entry = waitlist.waitlist_join(
        actor=world.patient_actor, patient_id=world.patient.pk, motif_id=world.motif.pk
    )
    with clock.frozen_at(clock.now() + dt.timedelta(seconds=1)):
        carol_entry = waitlist.waitlist_join(actor=carol_actor, patient_id=carol.pk, motif_id=world.motif.pk)
    outbox.deliver_due()
    mail.outbox.clear()
    return Queue(
        **personas_of(world),  # type: ignore[arg-type]
        bob_actor=bob_actor,
        booked=booked,
        carol_user=carol_user,
        carol=carol,
        carol_actor=carol_actor,
        alice_entry=alice_entry,
        carol_entry=carol_entry,
    )


def offered_to(user_email: str) -> list[str]:
    return [str(m.subject) for m in mail.outbox if m.to == [user_email]]


def test_cancellation_holds_the_slot_for_the_first_in_line_and_tells_only_them(queue: Queue) -> None:
    services.appointment_cancel(actor=queue.bob_actor, appointment_id=queue.booked.pk)
    offer = WaitingListOffer.objects.get()
    assert offer.entry == queue.alice_entry and offer.status == OfferStatus.OFFERED
    assert offer.hold is not None and offer.hold.status == Status.HELD and offer.hold.start_at == f.paris(*SLOT)
    assert offer.expires_at == clock.now() + dt.timedelta(minutes=30)
    # Nobody else can take it meanwhile.
    with pytest.raises(Conflict):
        book(queue, f.paris(*SLOT), actor=queue.carol_actor, patient=queue.carol)
    outbox.deliver_due()
    assert offered_to(queue.user.email) == ["Un créneau plus tôt s'est libéré"]
    assert not offered_to(queue.carol_user.email)
    body = next(m.body for m in mail.outbox if m.to == [queue.user.email])
    assert f"http://127.0.0.1:8000/account/waiting-list/offers/{offer.pk}/" in body
    assert "Nous vous le réservons jusqu'à 07:30" in body  # 30 minutes from 07:00 in Paris
    sms = [text for to, text in LocmemSmsBackend.outbox.values()]
    assert any("plus tôt" in text for text in sms)


def test_an_unanswered_offer_expires_and_passes_to_the_next(queue: Queue) -> None:
    services.appointment_cancel(actor=queue.bob_actor, appointment_id=queue.booked.pk)
    first = WaitingListOffer.objects.get()
    with clock.frozen_at(first.expires_at - dt.timedelta(seconds=1)):
        assert waitlist.offers_expire() == 0
    with clock.frozen_at(first.expires_at):
        assert waitlist.offers_expire() == 1
        outbox.deliver_due()
    first.refresh_from_db()
    assert first.status == OfferStatus.EXPIRED
    assert first.hold_id is None or not Appointment.objects.filter(pk=first.hold_id).exists()  # Alice's hold released
    second = WaitingListOffer.objects.get(status=OfferStatus.OFFERED)
    assert second.entry == queue.carol_entry and second.start_at == f.paris(*SLOT)
    assert second.hold is not None and second.hold.actor_key == queue.carol_actor.key
    assert offered_to(queue.carol_user.email) == ["Un créneau plus tôt s'est libéré"]
    # Alice's expired offer is refused; Carol's is accepted and becomes her booking.
    with clock.frozen_at(first.expires_at), translation.override("en"), pytest.raises(PolicyViolation, match="expired"):
        waitlist.waitlist_offer_accept(actor=queue.patient_actor, offer_id=first.pk)
    with clock.frozen_at(first.expires_at + dt.timedelta(minutes=5)):
        appt = waitlist.waitlist_offer_accept(actor=queue.carol_actor, offer_id=second.pk)
    assert appt.status == Status.BOOKED and appt.patient_id == queue.carol.pk
    queue.carol_entry.refresh_from_db()
    assert queue.carol_entry.status == EntryStatus.FULFILLED
    assert OutboundMessage.objects.filter(appointment=appt, kind=Kind.BOOKING_CONFIRMATION).exists()
    # Alice is still waiting for another slot.
    queue.alice_entry.refresh_from_db()
    assert queue.alice_entry.status == EntryStatus.ACTIVE


def test_an_offer_message_not_yet_sent_when_the_offer_expires_is_withdrawn(queue: Queue) -> None:
    services.appointment_cancel(actor=queue.bob_actor, appointment_id=queue.booked.pk)
    first = WaitingListOffer.objects.get()
    with clock.frozen_at(first.expires_at):
        waitlist.offers_expire()
        outbox.deliver_due()
    alice_offer = OutboundMessage.objects.filter(kind=Kind.WAITLIST_OFFER, user=queue.user)
    assert {m.status for m in alice_offer} == {MessageStatus.CANCELLED}


def test_entries_that_want_an_earlier_date_or_another_site_are_skipped(queue: Queue) -> None:
    waitlist.waitlist_leave(actor=queue.patient_actor, entry_id=queue.alice_entry.pk)
    queue.carol_entry.before = f.paris(*SLOT)  # Carol only wants slots before Tuesday 09:00
    queue.carol_entry.save()
    services.appointment_cancel(actor=queue.bob_actor, appointment_id=queue.booked.pk)
    assert not WaitingListOffer.objects.exists()
    assert Appointment.objects.filter(status=Status.HELD).count() == 0


def test_the_offer_page_is_only_for_its_patient_and_books_the_slot(queue: Queue, client: Client) -> None:
    services.appointment_cancel(actor=queue.bob_actor, appointment_id=queue.booked.pk)
    offer = WaitingListOffer.objects.get()
    url = f"/en/account/waiting-list/offers/{offer.pk}/"
    client.force_login(queue.carol_user)
    assert client.get(url).status_code == 404
    client.force_login(queue.user)
    page = client.get(url)
    assert page.status_code == 200 and "Book this slot" in page.content.decode()
    assert client.post(url, {"action": "accept"}).status_code == 302
    offer.refresh_from_db()
    assert offer.status == OfferStatus.ACCEPTED
    assert offer.hold_id is not None and Appointment.objects.get(pk=offer.hold_id).status == Status.BOOKED


def test_joining_from_an_appointment_waits_for_an_earlier_slot_and_can_be_left(world: World, client: Client) -> None:
    mine = book(world, f.paris(2026, 3, 6, 11, 0))
    client.force_login(world.user)
    response = client.post("/en/account/waiting-list/join/", {"appointment_id": str(mine.pk)})
    assert response.status_code == 302
    entry = WaitingListEntry.objects.get(status=EntryStatus.ACTIVE)
    assert (entry.patient_id, entry.motif_id, entry.before) == (world.patient.pk, world.motif.pk, mine.start_at)
    page = client.get("/en/account/waiting-list/").content.decode()
    assert world.doc.display_name in page and "Leave" in page
    # Someone else's earlier appointment is cancelled: the slot is offered to us.
    _u, bob, bob_actor = f.patient_account(given_name="Bob")
    earlier = book(world, f.paris(2026, 3, 4, 9, 0), actor=bob_actor, patient=bob)
    services.appointment_cancel(actor=bob_actor, appointment_id=earlier.pk)
    assert WaitingListOffer.objects.get().entry == entry
    client.post("/en/account/waiting-list/", {"entry": str(entry.pk)})
    entry.refresh_from_db()
    assert entry.status == EntryStatus.CANCELLED


def test_one_cannot_join_with_another_accounts_appointment(world: World, client: Client) -> None:
    _u, bob, bob_actor = f.patient_account(given_name="Bob")
    theirs = book(world, f.paris(2026, 3, 6, 11, 0), actor=bob_actor, patient=bob)
    client.force_login(world.user)
    response = client.post("/en/account/waiting-list/join/", {"appointment_id": str(theirs.pk)})
    assert response.status_code == 404
    assert not WaitingListEntry.objects.exists()
