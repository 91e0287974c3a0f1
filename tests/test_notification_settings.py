"""Reminder switches (per agenda, visit reason, patient), one SMS for several appointments the same
day, and no health information in any SMS."""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from creneau.audit.models import AuditEvent
from creneau.booking import services as booking
from creneau.booking.services import SlotRef
from creneau.core import clock
from creneau.core.errors import InvalidInput, NotFound
from creneau.notifications import outbox
from creneau.notifications.models import Kind, MessageChannel, MessageStatus, OutboundMessage
from creneau.notifications.services import reminders_switch
from creneau.patients.models import Relationship
from creneau.patients.services import patient_create_for_account

from . import factories as f
from .web_support import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _french() -> Iterator[None]:
    """Service messages in the default language, whatever an earlier test left active."""
    with translation.override("fr"):
        yield


UTC = dt.UTC


def _get(world: Any, name: str) -> Any:
    return world[name] if isinstance(world, dict) else getattr(world, name)


@pytest.fixture
def w(world: Any) -> types.SimpleNamespace:
    names = ("org", "site", "doc", "agenda", "motif", "user", "patient", "patient_actor", "secretary", "outsider")
    return types.SimpleNamespace(**{n: _get(world, n) for n in names})


def _book(w: types.SimpleNamespace, start: dt.datetime, patient: Any = None) -> Any:
    return booking.appointment_book(
        actor=w.patient_actor,
        slot=SlotRef(w.doc.pk, w.motif.pk, w.site.pk, start),
        patient_id=(patient or w.patient).pk,
    )


def _reminders(appointment: Any, status: str = MessageStatus.PENDING) -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(appointment_id=appointment.pk, kind=Kind.REMINDER, status=status))


def test_reminders_off_for_an_agenda_withdraw_pending_ones_and_skip_new_bookings(w: types.SimpleNamespace) -> None:
    before = _book(w, f.paris(2026, 3, 20, 9))
    assert len(_reminders(before)) == 3  # e-mail 7 days and 1 day before, one SMS
    assert reminders_switch(actor=w.secretary, agenda_id=w.agenda.pk, enabled=False) is True
    assert not _reminders(before) and len(_reminders(before, MessageStatus.CANCELLED)) == 3
    after = _book(w, f.paris(2026, 3, 21, 9))
    assert not _reminders(after)
    kinds = set(OutboundMessage.objects.filter(appointment_id=after.pk).values_list("kind", flat=True))
    assert kinds == {Kind.BOOKING_CONFIRMATION}  # the confirmation is always sent
    assert AuditEvent.objects.filter(via="reminders_switch").count() == 1
    assert reminders_switch(actor=w.secretary, agenda_id=w.agenda.pk, enabled=False) is False  # no change
    reminders_switch(actor=w.secretary, agenda_id=w.agenda.pk, enabled=True)
    assert len(_reminders(_book(w, f.paris(2026, 3, 22, 9)))) == 3


def test_reminders_off_for_a_visit_reason(w: types.SimpleNamespace) -> None:
    reminders_switch(actor=w.secretary, motif_id=w.motif.pk, enabled=False)
    assert not _reminders(_book(w, f.paris(2026, 3, 20, 9)))


def test_a_patient_stops_reminders_for_a_person_on_the_account(w: types.SimpleNamespace) -> None:
    client = signed_in(w.user)
    response = client.post(reverse("web:account"), {"action": "reminders", "patient": str(w.patient.pk), "on": "0"})
    assert response.status_code == 302
    assert "Renvoyer les rappels" in client.get(reverse("web:account")).content.decode()
    assert not _reminders(_book(w, f.paris(2026, 3, 20, 9)))


def test_switches_need_the_right_and_one_target(w: types.SimpleNamespace) -> None:
    with pytest.raises(NotFound):
        reminders_switch(actor=w.outsider, agenda_id=w.agenda.pk, enabled=False)
    with pytest.raises(NotFound):
        reminders_switch(actor=w.outsider, motif_id=w.motif.pk, enabled=False)
    _user, _patient, other_actor = f.patient_account()
    with pytest.raises(NotFound):
        reminders_switch(actor=other_actor, patient_id=w.patient.pk, enabled=False)
    with pytest.raises(InvalidInput):
        reminders_switch(actor=w.secretary, agenda_id=w.agenda.pk, motif_id=w.motif.pk, enabled=False)
    assert len(_reminders(_book(w, f.paris(2026, 3, 20, 9)))) == 3


def test_staff_switch_reminders_from_the_settings_and_visit_reason_pages(w: types.SimpleNamespace) -> None:
    client = signed_in(w.secretary.user)
    settings_url = reverse("web:staff_settings", args=[w.agenda.pk])
    assert client.post(settings_url, {"action": "reminders", "on": "0"}).status_code == 302
    assert "Rappels désactivés" in client.get(settings_url).content.decode()
    motif_url = reverse("web:staff_motif", args=[w.motif.pk])
    assert client.post(motif_url, {"action": "reminders", "on": "0"}).status_code == 302
    assert "Rappels désactivés" in client.get(motif_url).content.decode()


def test_one_sms_for_several_appointments_of_the_account_the_same_day(w: types.SimpleNamespace) -> None:
    child = patient_create_for_account(
        actor=w.patient_actor,
        relationship=Relationship.CHILD,
        given_name="Léo",
        family_name="Patiente",
        birth_date=dt.date(2015, 6, 1),
        sex="M",
    )
    mine = _book(w, f.paris(2026, 3, 6, 9, 0))
    theirs = _book(w, f.paris(2026, 3, 6, 9, 30), patient=child)
    sms = OutboundMessage.objects.filter(kind=Kind.REMINDER, channel=MessageChannel.SMS)
    assert sms.count() == 2
    with clock.frozen_at(f.paris(2026, 3, 5, 9, 30)):  # both day-before SMS are due
        outbox.deliver_due()
    sent = list(sms.filter(status=MessageStatus.SENT))
    assert len(sent) == 1
    assert "09h00, 09h30" in sent[0].body_text
    assert sms.filter(status=MessageStatus.CANCELLED, last_error="merged into one SMS").count() == 1
    assert {m.appointment_id for m in sms} == {mine.pk, theirs.pk}


def test_no_sms_carries_health_information(w: types.SimpleNamespace) -> None:
    w.motif.name = "Suivi psoriasis"
    w.motif.save()
    a = _book(w, f.paris(2026, 3, 20, 9))
    booking.appointment_reschedule(actor=w.patient_actor, appointment_id=a.pk, new_start=f.paris(2026, 3, 21, 10))
    texts = list(OutboundMessage.objects.filter(channel=MessageChannel.SMS).values_list("pk", flat=True))
    bodies = [OutboundMessage.objects.get(pk=pk).body_text for pk in texts]
    assert len(bodies) >= 3  # confirmation, move, reminders
    specialty = w.doc.specialty.label
    for body in bodies:
        assert "psoriasis" not in body.lower() and specialty.lower() not in body.lower()
