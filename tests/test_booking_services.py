"""The booking service as patients, secretaries and outsiders meet it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import translation

from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.core import clock
from creneau.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PolicyViolation
from creneau.scheduling.models import Absence

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def in_english() -> Iterator[None]:
    """Messages are matched in English here; the French catalogue is checked by the web tests."""
    with translation.override("en"):
        yield


def ref(w: World, start: dt.datetime) -> SlotRef:
    return SlotRef(w.doc.pk, w.motif.pk, w.site.pk, start)


def book(w: World, start: dt.datetime, **kw: Any) -> Appointment:
    return services.appointment_book(actor=w.patient_actor, slot=ref(w, start), patient_id=w.patient.pk, **kw)


def test_patient_books_a_free_slot(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 2, 9, 0))
    assert appt.status == Status.BOOKED
    assert appt.end_at - appt.start_at == dt.timedelta(minutes=30)
    assert appt.organization_id == world.org.pk
    assert appt.source == "web"


def test_second_booking_of_the_same_slot_is_a_conflict(world: World) -> None:
    book(world, f.paris(2026, 3, 2, 9, 0))
    _u, other, actor = f.patient_account(given_name="Bob")
    with pytest.raises(Conflict):
        services.appointment_book(actor=actor, slot=ref(world, f.paris(2026, 3, 2, 9, 0)), patient_id=other.pk)
    assert Appointment.objects.filter(status=Status.BOOKED).count() == 1


def test_overlapping_motif_of_another_length_is_refused_by_the_database(world: World) -> None:
    long_motif = f.motif(world.doc, minutes=60, name="Long")
    book(world, f.paris(2026, 3, 2, 9, 30))
    with pytest.raises(Conflict):
        services.appointment_book(
            actor=world.patient_actor,
            slot=SlotRef(world.doc.pk, long_motif.pk, world.site.pk, f.paris(2026, 3, 2, 9, 0)),
            patient_id=world.patient.pk,
        )


def test_buffer_keeps_the_next_slot_free(world: World) -> None:
    buffered = f.motif(world.doc, minutes=30, buffer=10, name="Avec battement")
    services.appointment_book(
        actor=world.patient_actor,
        slot=SlotRef(world.doc.pk, buffered.pk, world.site.pk, f.paris(2026, 3, 2, 9, 0)),
        patient_id=world.patient.pk,
    )
    with pytest.raises(Conflict):
        book(world, f.paris(2026, 3, 2, 9, 30))
    # (another patient: one patient sees a practitioner once a day, tests/test_booking_spacing.py)
    after = services.appointment_book(
        actor=world.secretary, slot=ref(world, f.paris(2026, 3, 2, 10, 0)), patient_id=world.caller.pk
    )
    assert after.status == Status.BOOKED


@pytest.mark.parametrize(
    "start,message",
    [
        ((2026, 3, 2, 12, 0), "not an available slot"),  # closing time
        ((2026, 3, 2, 9, 10), "not an available slot"),  # off the grid
        ((2026, 3, 1, 9, 0), "already passed"),  # yesterday
    ],
)
def test_times_outside_the_agenda_are_refused_with_a_reason(world: World, start: tuple, message: str) -> None:
    with pytest.raises(PolicyViolation, match=message):
        book(world, f.paris(*start))


def test_absence_blocks_booking(world: World) -> None:
    Absence.objects.create(
        agenda=f.agenda(world.doc),
        practitioner=world.doc,
        start_at=f.paris(2026, 3, 3, 0),
        end_at=f.paris(2026, 3, 4, 0),
    )
    with pytest.raises(PolicyViolation):
        book(world, f.paris(2026, 3, 3, 10, 0))


def test_min_notice_and_horizon_apply_online_but_not_to_the_secretary(world: World) -> None:
    world.motif.min_notice_minutes = 24 * 60
    world.motif.max_horizon_days = 7
    world.motif.save()
    with pytest.raises(PolicyViolation, match="too soon"):
        book(world, f.paris(2026, 3, 2, 10, 0))
    with pytest.raises(PolicyViolation, match="too far"):
        book(world, f.paris(2026, 3, 12, 10, 0))
    phone = services.appointment_book(
        actor=world.secretary, slot=ref(world, f.paris(2026, 3, 2, 10, 0)), patient_id=world.caller.pk
    )
    assert phone.source == "phone"


def test_motif_not_bookable_online_is_refused_to_patients(world: World) -> None:
    world.motif.bookable_online = False
    world.motif.save()
    with pytest.raises(PolicyViolation, match="cannot be booked online"):
        book(world, f.paris(2026, 3, 2, 9, 0))


def test_idempotent_retry_returns_the_first_booking(world: World) -> None:
    first = book(world, f.paris(2026, 3, 2, 9, 0), idempotency_key="req-123")
    again = book(world, f.paris(2026, 3, 2, 9, 0), idempotency_key="req-123")
    assert again.pk == first.pk
    assert Appointment.objects.count() == 1


def test_idempotency_key_reused_for_another_slot_is_refused(world: World) -> None:
    book(world, f.paris(2026, 3, 2, 9, 0), idempotency_key="req-123")
    with pytest.raises(Conflict, match="idempotency key"):
        book(world, f.paris(2026, 3, 2, 10, 0), idempotency_key="req-123")


def test_idempotency_keys_are_scoped_to_the_actor(world: World) -> None:
    book(world, f.paris(2026, 3, 2, 9, 0), idempotency_key="same")
    _u, other, actor = f.patient_account(given_name="Bob")
    appt = services.appointment_book(
        actor=actor, slot=ref(world, f.paris(2026, 3, 2, 10, 0)), patient_id=other.pk, idempotency_key="same"
    )
    assert appt.patient_id == other.pk


# --- new patients -------------------------------------------------------------------------------


def test_returning_only_motif_refuses_a_new_patient(world: World) -> None:
    world.motif.audience = "returning"
    world.motif.save()
    with pytest.raises(PolicyViolation, match="already followed"):
        book(world, f.paris(2026, 3, 2, 9, 0))


def test_returning_only_motif_accepts_a_patient_seen_before(world: World) -> None:
    world.motif.audience = "returning"
    world.motif.save()
    with clock.frozen_at(f.paris(2026, 2, 20, 7)):
        services.appointment_book(
            actor=world.secretary, slot=ref(world, f.paris(2026, 2, 20, 9, 0)), patient_id=world.caller.pk
        )
    caller_account = services.appointment_book(
        actor=world.secretary, slot=ref(world, f.paris(2026, 3, 2, 9, 0)), patient_id=world.caller.pk
    )
    assert caller_account.status == Status.BOOKED
    with pytest.raises(PolicyViolation, match="already followed"):
        book(world, f.paris(2026, 3, 2, 10, 0))


def test_new_only_motif_refuses_a_known_patient(world: World) -> None:
    with clock.frozen_at(f.paris(2026, 2, 20, 7)):
        book(world, f.paris(2026, 2, 20, 9, 0))
    world.motif.audience = "new"
    world.motif.save()
    with pytest.raises(PolicyViolation, match="new patients"):
        book(world, f.paris(2026, 3, 2, 9, 0))


def test_practitioner_closed_to_new_patients(world: World) -> None:
    world.doc.accepts_new_patients = False
    world.doc.save()
    with pytest.raises(PolicyViolation, match="not accepting new patients"):
        book(world, f.paris(2026, 3, 2, 9, 0))


# --- holds ---------------------------------------------------------------------------------------


def test_hold_blocks_others_then_confirms(world: World) -> None:
    start = f.paris(2026, 3, 2, 9, 0)
    hold = services.slot_hold(actor=world.patient_actor, slot=ref(world, start))
    _u, other, actor = f.patient_account(given_name="Bob")
    with pytest.raises(Conflict):
        services.appointment_book(actor=actor, slot=ref(world, start), patient_id=other.pk)
    appt = services.hold_confirm(actor=world.patient_actor, hold_id=hold.pk, patient_id=world.patient.pk)
    assert appt.pk == hold.pk and appt.status == Status.BOOKED and appt.patient_id == world.patient.pk


def test_expired_hold_frees_the_slot_for_someone_else(world: World) -> None:
    start = f.paris(2026, 3, 2, 9, 0)
    services.slot_hold(actor=world.patient_actor, slot=ref(world, start))
    _u, other, actor = f.patient_account(given_name="Bob")
    with clock.frozen_at(f.paris(2026, 3, 2, 7, 11)):
        appt = services.appointment_book(actor=actor, slot=ref(world, start), patient_id=other.pk)
    assert appt.patient_id == other.pk
    assert Appointment.objects.filter(status=Status.HELD).count() == 0


def test_confirming_a_hold_that_expired_still_books_if_free(world: World) -> None:
    hold = services.slot_hold(actor=world.patient_actor, slot=ref(world, f.paris(2026, 3, 2, 9, 0)))
    with clock.frozen_at(f.paris(2026, 3, 2, 7, 30)):
        appt = services.hold_confirm(actor=world.patient_actor, hold_id=hold.pk, patient_id=world.patient.pk)
    assert appt.status == Status.BOOKED
    assert appt.start_at == f.paris(2026, 3, 2, 9, 0)


def test_a_patient_cannot_hoard_slots_with_holds(world: World) -> None:
    for hour in (9, 10):
        services.slot_hold(actor=world.patient_actor, slot=ref(world, f.paris(2026, 3, 2, hour, 0)))
    with pytest.raises(PolicyViolation, match="already holding"):
        services.slot_hold(actor=world.patient_actor, slot=ref(world, f.paris(2026, 3, 2, 11, 0)))


def test_someone_elses_hold_cannot_be_confirmed(world: World) -> None:
    hold = services.slot_hold(actor=world.patient_actor, slot=ref(world, f.paris(2026, 3, 2, 9, 0)))
    _u, other, actor = f.patient_account(given_name="Mallory")
    with pytest.raises(NotFound):
        services.hold_confirm(actor=actor, hold_id=hold.pk, patient_id=other.pk)


def test_a_patient_cannot_book_for_someone_not_on_their_account(world: World) -> None:
    _u, stranger, _a = f.patient_account(given_name="Eve")
    with pytest.raises(NotFound):
        services.appointment_book(
            actor=world.patient_actor, slot=ref(world, f.paris(2026, 3, 2, 9, 0)), patient_id=stranger.pk
        )


# --- cancel, move, mark --------------------------------------------------------------------------


def test_patient_cancels_before_the_deadline_and_the_slot_is_free_again(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 3, 9, 0))
    cancelled = services.appointment_cancel(actor=world.patient_actor, appointment_id=appt.pk)
    assert cancelled.status == Status.CANCELLED and cancelled.cancelled_by == "patient"
    assert book(world, f.paris(2026, 3, 3, 9, 0)).status == Status.BOOKED


def test_patient_cannot_cancel_inside_the_deadline_but_the_practice_can(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 2, 10, 0))  # deadline 4 h: now is 07:00, limit was 06:00
    with pytest.raises(PolicyViolation, match="less than 4 hours"):
        services.appointment_cancel(actor=world.patient_actor, appointment_id=appt.pk)
    assert services.appointment_cancel(actor=world.secretary, appointment_id=appt.pk).cancelled_by == "practice"


def test_cancellation_deadline_is_per_practitioner(world: World) -> None:
    world.doc.cancellation_deadline_hours = 48
    world.doc.save()
    appt = book(world, f.paris(2026, 3, 3, 9, 0))  # 26 h ahead
    with pytest.raises(PolicyViolation, match="less than 48 hours"):
        services.appointment_cancel(actor=world.patient_actor, appointment_id=appt.pk)


def test_reschedule_moves_atomically(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 3, 9, 0))
    moved = services.appointment_reschedule(
        actor=world.patient_actor, appointment_id=appt.pk, new_start=f.paris(2026, 3, 3, 9, 30)
    )
    appt.refresh_from_db()
    assert appt.status == Status.CANCELLED
    assert moved.rescheduled_from_id == appt.pk and moved.start_at == f.paris(2026, 3, 3, 9, 30)


def test_reschedule_onto_a_taken_slot_keeps_the_original(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 3, 9, 0))
    _u, other, actor = f.patient_account(given_name="Bob")
    services.appointment_book(actor=actor, slot=ref(world, f.paris(2026, 3, 3, 10, 0)), patient_id=other.pk)
    with pytest.raises(Conflict):
        services.appointment_reschedule(
            actor=world.patient_actor, appointment_id=appt.pk, new_start=f.paris(2026, 3, 3, 10, 0)
        )
    appt.refresh_from_db()
    assert appt.status == Status.BOOKED


def test_practice_marks_no_show_after_the_start_only(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 2, 9, 0))
    with pytest.raises(PolicyViolation, match="once it has started"):
        services.appointment_mark(actor=world.secretary, appointment_id=appt.pk, status="no_show")
    with clock.frozen_at(f.paris(2026, 3, 2, 9, 20)):
        assert (
            services.appointment_mark(actor=world.secretary, appointment_id=appt.pk, status="no_show").status
            == "no_show"
        )
        with pytest.raises(PermissionDenied):
            services.appointment_mark(actor=world.patient_actor, appointment_id=appt.pk, status="fulfilled")
        with pytest.raises(InvalidInput):
            services.appointment_mark(actor=world.secretary, appointment_id=appt.pk, status="booked")


# --- scoping ---------------------------------------------------------------------------------------


def test_another_patient_cannot_cancel_or_even_see_my_appointment(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 3, 9, 0))
    _u, _p, mallory = f.patient_account(given_name="Mallory")
    with pytest.raises(NotFound):
        services.appointment_cancel(actor=mallory, appointment_id=appt.pk)


def test_secretary_of_another_organization_gets_not_found(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 3, 9, 0))
    with pytest.raises(NotFound):
        services.appointment_cancel(actor=world.outsider, appointment_id=appt.pk)
    with pytest.raises(NotFound):
        services.appointment_book(
            actor=world.outsider, slot=ref(world, f.paris(2026, 3, 3, 10, 0)), patient_id=world.patient.pk
        )


def test_phone_booked_appointment_is_invisible_to_other_patients(world: World) -> None:
    """The 2020 breach: records written by another channel lacked the ownership check."""
    from creneau.patients.services import patient_create_for_organization

    caller = patient_create_for_organization(
        actor=world.secretary,
        organization_id=world.org.pk,
        family_name="Appelant",
        given_name="Paul",
        birth_date=dt.date(1970, 1, 1),
    )
    appt = services.appointment_book(
        actor=world.secretary, slot=ref(world, f.paris(2026, 3, 3, 9, 0)), patient_id=caller.pk
    )
    from creneau.booking.selectors import access_appointment, account_appointments

    with pytest.raises(NotFound):
        access_appointment(world.patient_actor, appt.pk)
    assert account_appointments(world.patient_actor, upcoming=True) == []


@pytest.mark.parametrize("bad_id", ["1", "../etc", "", "00000000-0000-0000-0000-000000000000"])
def test_malformed_or_unknown_ids_are_plain_not_found(world: World, bad_id: str) -> None:
    with pytest.raises(NotFound):
        services.appointment_cancel(actor=world.patient_actor, appointment_id=bad_id)


def test_naive_datetimes_are_rejected(world: World) -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        book(world, dt.datetime(2026, 3, 2, 9, 0))
