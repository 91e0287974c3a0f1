"""The spacing rule (issue 17): a patient account cannot book the same patient (or relative) twice with one
practitioner on one day, nor, where a specialty has a minimum interval, twice in that specialty within it.
The patient is told why and keeps the earlier appointment (or moves it). Practices booking by phone are
not held to it. Concurrency: tests/test_abuse_limits_concurrency.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from django.utils import translation

from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.core.errors import PolicyViolation
from creneau.patients.models import Relationship
from creneau.patients.services import patient_create_for_account

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def slot(w: World, day: int, hour: int, minute: int = 0, *, doc: Any = None, motif: Any = None) -> SlotRef:
    d = doc or w.doc
    m = motif or w.motif
    return SlotRef(d.pk, m.pk, w.site.pk, f.paris(2026, 3, day, hour, minute))


def book(w: World, ref: SlotRef, patient: Any = None) -> Appointment:
    p = patient or w.patient
    return services.appointment_book(actor=w.patient_actor, slot=ref, patient_id=p.pk)


def test_the_same_patient_twice_with_one_practitioner_on_one_day_is_refused_with_the_reason(world: World) -> None:
    book(world, slot(world, 3, 9))
    with pytest.raises(PolicyViolation, match="one a day at most") as refused:
        book(world, slot(world, 3, 11))
    assert "09:00" in str(refused.value) and refused.value.code == "same-day"
    hold = services.slot_hold(actor=world.patient_actor, slot=slot(world, 3, 10))
    with pytest.raises(PolicyViolation, match="one a day at most"):
        services.hold_confirm(actor=world.patient_actor, hold_id=hold.pk, patient_id=world.patient.pk)
    assert Appointment.objects.filter(patient=world.patient, status=Status.BOOKED).count() == 1
    with translation.override("fr"), pytest.raises(PolicyViolation, match="un par jour au plus"):
        book(world, slot(world, 3, 11, 30))


def test_the_next_day_another_practitioner_or_a_relative_the_same_day_are_fine(world: World) -> None:
    book(world, slot(world, 3, 9))
    assert book(world, slot(world, 4, 9)).status == Status.BOOKED
    colleague = f.practitioner(world.site)
    f.every_day(colleague, world.site)
    assert book(world, slot(world, 3, 10, doc=colleague, motif=f.motif(colleague))).status == Status.BOOKED
    child = patient_create_for_account(
        actor=world.patient_actor,
        relationship=Relationship.CHILD,
        family_name="Enfant",
        given_name="Léo",
        birth_date=dt.date(2016, 5, 1),
    )
    assert book(world, slot(world, 3, 11), patient=child).status == Status.BOOKED
    with pytest.raises(PolicyViolation, match="one a day at most"):
        book(world, slot(world, 3, 11, 30), patient=child)


def test_a_cancelled_appointment_does_not_count_and_the_practice_may_book_twice(world: World) -> None:
    first = book(world, slot(world, 3, 9))
    services.appointment_cancel(actor=world.patient_actor, appointment_id=first.pk)
    assert book(world, slot(world, 3, 10)).status == Status.BOOKED
    secretary = world.secretary
    twice = services.appointment_book(actor=secretary, slot=slot(world, 3, 11), patient_id=world.caller.pk)
    again = services.appointment_book(actor=secretary, slot=slot(world, 3, 11, 30), patient_id=world.caller.pk)
    assert twice.status == again.status == Status.BOOKED


def test_moving_onto_a_day_already_taken_is_refused_and_keeps_the_original(world: World) -> None:
    book(world, slot(world, 3, 9))
    other = book(world, slot(world, 5, 9))
    with pytest.raises(PolicyViolation, match="one a day at most"):
        services.appointment_reschedule(
            actor=world.patient_actor, appointment_id=other.pk, new_start=f.paris(2026, 3, 3, 10, 0)
        )
    other.refresh_from_db()
    assert other.status == Status.BOOKED
    moved = services.appointment_reschedule(
        actor=world.patient_actor, appointment_id=other.pk, new_start=f.paris(2026, 3, 5, 10, 0)
    )
    assert moved.status == Status.BOOKED  # the same day as itself: a move, not a second appointment


def test_a_specialty_interval_keeps_two_appointments_apart(world: World) -> None:
    specialty = world.doc.specialty_id
    colleague = f.practitioner(world.site)
    colleague.specialty_id = specialty
    colleague.save()
    f.every_day(colleague, world.site)
    theirs = f.motif(colleague)
    with override_settings(CRENEAU_SPACING_DAYS={specialty: 6}):
        book(world, slot(world, 3, 9))
        with pytest.raises(PolicyViolation, match="at least 6 days apart") as refused:
            book(world, slot(world, 8, 9, doc=colleague, motif=theirs))
        assert refused.value.code == "spacing"
        assert book(world, slot(world, 9, 9, doc=colleague, motif=theirs)).status == Status.BOOKED
