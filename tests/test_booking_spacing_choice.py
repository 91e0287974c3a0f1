"""The spacing rule's choice (issue 17): a patient refused because of an earlier appointment of the same
person is told why, on the page, and chooses: keep the earlier one (the new time is released) or replace
it (the earlier one is cancelled and the new time booked in one transaction, or neither)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client, override_settings

from creneau.audit.models import AuditEvent
from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef, SpacingRefused
from creneau.core import clock
from creneau.core.errors import Conflict
from creneau.notifications.models import OutboundMessage

from . import factories as f
from .personas import World
from .web_support import signed_in

pytestmark = pytest.mark.django_db


def _slot(w: World, day: int, hour: int) -> SlotRef:
    return SlotRef(w.doc.pk, w.motif.pk, w.site.pk, f.paris(2026, 3, day, hour, 0))


def _refused(w: World) -> tuple[Appointment, Appointment, tuple[Client, Any]]:
    """An appointment on Tuesday at 09:00, a hold on Tuesday at 10:00, and the refused confirmation."""
    earlier = services.appointment_book(actor=w.patient_actor, slot=_slot(w, 3, 9), patient_id=w.patient.pk)
    hold = services.slot_hold(actor=w.patient_actor, slot=_slot(w, 3, 10))
    client = signed_in(w.user)
    response = client.post(f"/book/{hold.pk}/", {"patient": str(w.patient.pk)})
    return earlier, hold, (client, response)


def test_the_refusal_says_why_and_offers_to_keep_or_replace(world: World) -> None:
    earlier, hold, (_client, response) = _refused(world)
    page = response.content.decode()
    assert response.status_code == 422
    assert "un par jour au plus" in page  # why
    assert "Garder le rendez-vous précédent" in page and "Le remplacer par cet horaire" in page
    assert "mardi 3 mars 2026, 09:00" in page.lower()
    assert f'name="replacing" value="{earlier.pk}"' in page and f'name="keep" value="{earlier.pk}"' in page
    assert Appointment.objects.get(pk=hold.pk).status == Status.HELD


def test_keeping_the_earlier_one_releases_the_new_time(world: World) -> None:
    earlier, hold, (client, _r) = _refused(world)
    response = client.post(f"/book/{hold.pk}/release/", {"keep": str(earlier.pk)})
    assert response.status_code == 302 and response["Location"].endswith(f"/account/appointments/{earlier.pk}/")
    assert Appointment.objects.get(pk=earlier.pk).status == Status.BOOKED
    assert not Appointment.objects.filter(pk=hold.pk, status=Status.HELD).exists()  # released


def test_replacing_cancels_the_earlier_one_and_books_the_new_time_together(world: World) -> None:
    earlier, hold, (client, _r) = _refused(world)
    audited = AuditEvent.objects.filter(object_type="appointment").count()
    response = client.post(f"/book/{hold.pk}/", {"patient": str(world.patient.pk), "replacing": str(earlier.pk)})
    assert response.status_code == 302 and f"/appointments/{hold.pk}/confirmed/" in response["Location"]
    assert Appointment.objects.get(pk=earlier.pk).status == Status.CANCELLED
    booked = Appointment.objects.get(pk=hold.pk)
    assert booked.status == Status.BOOKED and booked.patient_id == world.patient.pk
    # Both told and audited as what they are: a cancellation and a booking.
    kinds = set(OutboundMessage.objects.values_list("kind", flat=True))
    assert {"cancellation", "booking_confirmation"} <= kinds
    assert AuditEvent.objects.filter(object_type="appointment").count() >= audited + 2
    page = client.get(response["Location"]).content.decode()
    assert "Votre rendez-vous précédent est annulé et remplacé par celui-ci." in page


def test_replacement_inside_the_cancellation_deadline_changes_nothing(world: World) -> None:
    earlier, hold, (client, _r) = _refused(world)
    world.doc.cancellation_deadline_hours = 48  # Tuesday 09:00 is 26 hours away
    world.doc.save(update_fields=["cancellation_deadline_hours"])
    response = client.post(f"/book/{hold.pk}/", {"patient": str(world.patient.pk), "replacing": str(earlier.pk)})
    assert response.status_code == 422
    assert Appointment.objects.get(pk=earlier.pk).status == Status.BOOKED
    assert Appointment.objects.get(pk=hold.pk).status == Status.HELD


def test_replacing_someone_elses_appointment_is_a_404_and_changes_nothing(world: World) -> None:
    _user, stranger, stranger_actor = f.patient_account("inconnu@example.invalid")
    theirs = services.appointment_book(actor=stranger_actor, slot=_slot(world, 4, 9), patient_id=stranger.pk)
    earlier, hold, (client, _r) = _refused(world)
    response = client.post(f"/book/{hold.pk}/", {"patient": str(world.patient.pk), "replacing": str(theirs.pk)})
    assert response.status_code == 404
    assert Appointment.objects.get(pk=theirs.pk).status == Status.BOOKED
    assert Appointment.objects.get(pk=earlier.pk).status == Status.BOOKED


def test_a_hold_that_expired_meanwhile_keeps_the_earlier_appointment(world: World) -> None:
    earlier, hold, _r = _refused(world)
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=30)), pytest.raises(Conflict):
        services.hold_confirm(
            actor=world.patient_actor, hold_id=hold.pk, patient_id=world.patient.pk, replacing=earlier.pk
        )
    assert Appointment.objects.get(pk=earlier.pk).status == Status.BOOKED


@override_settings(CRENEAU_SPACING_DAYS={"SM15": 6})
def test_the_specialty_interval_offers_the_same_choice(world: World) -> None:
    earlier = services.appointment_book(actor=world.patient_actor, slot=_slot(world, 3, 9), patient_id=world.patient.pk)
    hold = services.slot_hold(actor=world.patient_actor, slot=_slot(world, 6, 10))
    with pytest.raises(SpacingRefused) as refused:
        services.hold_confirm(actor=world.patient_actor, hold_id=hold.pk, patient_id=world.patient.pk)
    assert refused.value.earlier_id == earlier.pk and refused.value.code == "spacing"
    services.hold_confirm(actor=world.patient_actor, hold_id=hold.pk, patient_id=world.patient.pk, replacing=earlier.pk)
    assert Appointment.objects.get(pk=earlier.pk).status == Status.CANCELLED
    assert Appointment.objects.get(pk=hold.pk).status == Status.BOOKED


def test_english_page_offers_the_choice_in_english(world: World) -> None:
    services.appointment_book(actor=world.patient_actor, slot=_slot(world, 3, 9), patient_id=world.patient.pk)
    hold = services.slot_hold(actor=world.patient_actor, slot=_slot(world, 3, 10))
    page = signed_in(world.user).post(f"/en/book/{hold.pk}/", {"patient": str(world.patient.pk)}).content.decode()
    assert "Keep the earlier appointment" in page and "Replace it with this time" in page
    assert f'action="/en/book/{hold.pk}/release/"' in page  # links keep the chosen language
