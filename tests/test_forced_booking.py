"""Forced bookings: staff with the right to force bookings (its own right, granted by admins) book on
top of another appointment or outside opening hours, with a reason kept in the audit trail; everything
not forced is still kept from overlapping by the database, and patients never see forced time as free.
Both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from creneau.accounts.models import AgendaAccess
from creneau.accounts.selectors import staff_actor
from creneau.audit.models import AuditEvent
from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.core.errors import Conflict, InvalidInput, PermissionDenied, PolicyViolation
from creneau.scheduling.selectors import free_slots

from . import factories as f
from .personas import World
from .web_support import signed_in, stamp

pytestmark = pytest.mark.django_db


def ref(w: World, start: dt.datetime) -> SlotRef:
    return SlotRef(w.doc.pk, w.motif.pk, w.site.pk, start)


def test_a_forced_booking_on_top_of_another_is_marked_and_audited_with_its_reason(world: World) -> None:
    first = services.appointment_book(
        actor=world.patient_actor, slot=ref(world, f.paris(2026, 3, 3, 10, 0)), patient_id=world.patient.pk
    )
    forced = services.appointment_force(
        actor=world.secretary,
        slot=ref(world, f.paris(2026, 3, 3, 10, 0)),
        patient_id=world.caller.pk,
        reason="Urgence : douleur",
    )
    assert forced.is_forced and forced.forced_reason == "Urgence : douleur" and forced.status == Status.BOOKED
    assert Appointment.objects.get(pk=first.pk).status == Status.BOOKED  # both kept
    event = AuditEvent.objects.get(via="appointment_force")
    assert event.changes["reason"] == ["", "Urgence : douleur"] and event.object_id == str(forced.pk)


def test_outside_opening_hours_and_still_never_free_for_patients(world: World) -> None:
    evening = f.paris(2026, 3, 3, 19, 0)  # open 09:00–12:00 only
    with pytest.raises(PolicyViolation):
        services.appointment_book(actor=world.secretary, slot=ref(world, evening), patient_id=world.caller.pk)
    services.appointment_force(
        actor=world.secretary, slot=ref(world, evening), patient_id=world.caller.pk, reason="Urgence"
    )
    nine = f.paris(2026, 3, 4, 9, 0)
    services.appointment_force(
        actor=world.secretary, slot=ref(world, nine), patient_id=world.caller.pk, reason="Urgence"
    )
    day = free_slots(
        practitioner_id=world.doc.pk,
        motif_id=world.motif.pk,
        start=f.paris(2026, 3, 4, 0, 0),
        end=f.paris(2026, 3, 5, 0, 0),
    )
    assert nine not in {s.start for s in day} and f.paris(2026, 3, 4, 9, 30) in {s.start for s in day}
    # An ordinary booking, or a move, onto the forced time is refused; the forced row stays alone.
    with pytest.raises(Conflict):
        services.appointment_book(actor=world.patient_actor, slot=ref(world, nine), patient_id=world.patient.pk)
    other = services.appointment_book(
        actor=world.patient_actor, slot=ref(world, f.paris(2026, 3, 4, 10, 0)), patient_id=world.patient.pk
    )
    with pytest.raises(Conflict):
        services.appointment_reschedule(actor=world.secretary, appointment_id=other.pk, new_start=nine)
    assert Appointment.objects.get(pk=other.pk).status == Status.BOOKED
    assert Appointment.objects.filter(start_at=nine).exclude(status=Status.CANCELLED).count() == 1


def test_the_database_still_refuses_overlaps_between_rows_not_forced(world: World) -> None:
    services.appointment_force(
        actor=world.secretary,
        slot=ref(world, f.paris(2026, 3, 3, 10, 0)),
        patient_id=world.caller.pk,
        reason="Urgence",
    )
    plain = services.appointment_book(
        actor=world.secretary, slot=ref(world, f.paris(2026, 3, 3, 11, 0)), patient_id=world.caller.pk
    )
    clone = Appointment.objects.get(pk=plain.pk)
    clone.pk = None
    clone.id = None
    clone.idempotency_key = None
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save(force_insert=True)  # a second ordinary row on the same time: the database says no
    # Flipping an ordinary row into a forced one is not a way around it either: only the service
    # writes the flag, and a forced row without its reason is refused by the database.
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.filter(pk=plain.pk).update(is_forced=True, forced_reason="")


def test_forcing_needs_the_right_and_a_reason_and_writes_nothing_otherwise(world: World) -> None:
    booker = f.staff(world.org, all_agendas=False)
    AgendaAccess.objects.create(user=f.user_of(booker), agenda=world.agenda, can_view=True, can_book=True)
    booker = staff_actor(f.user_of(booker))
    before = Appointment.objects.count(), AuditEvent.objects.filter(via="appointment_force").count()
    with pytest.raises(PermissionDenied):
        services.appointment_force(
            actor=booker, slot=ref(world, f.paris(2026, 3, 3, 19, 0)), patient_id=world.caller.pk, reason="x"
        )
    with pytest.raises(InvalidInput):
        services.appointment_force(
            actor=world.secretary,
            slot=ref(world, f.paris(2026, 3, 3, 19, 0)),
            patient_id=world.caller.pk,
            reason=" ",
        )
    with pytest.raises(PermissionDenied):
        services.appointment_force(
            actor=world.patient_actor,
            slot=ref(world, f.paris(2026, 3, 3, 19, 0)),
            patient_id=world.patient.pk,
            reason="x",
        )
    assert (Appointment.objects.count(), AuditEvent.objects.filter(via="appointment_force").count()) == before


def test_secretary_forces_from_the_booking_page_after_an_explicit_confirmation(world: World) -> None:
    services.appointment_book(
        actor=world.patient_actor, slot=ref(world, f.paris(2026, 3, 3, 10, 0)), patient_id=world.patient.pk
    )
    client = signed_in(f.user_of(world.secretary))
    url = f"/en/practice/agenda/{world.agenda.pk}/book/"
    slot = {"motif": str(world.motif.pk), "site": str(world.site.pk), "start": stamp(f.paris(2026, 3, 3, 10, 0))}
    refused = client.post(url, {**slot, "action": "book", "patient": str(world.caller.pk)})
    assert refused.status_code == 409
    html = refused.content.decode()
    assert "Force this booking?" in html and 'name="reason"' in html
    unconfirmed = client.post(url, {**slot, "action": "force", "patient": str(world.caller.pk), "reason": "Urgence"})
    assert unconfirmed.status_code == 400 and "Tick the box" in unconfirmed.content.decode()
    assert not Appointment.objects.filter(is_forced=True).exists()
    done = client.post(
        url, {**slot, "action": "force", "patient": str(world.caller.pk), "reason": "Urgence", "confirm": "yes"}
    )
    assert done.status_code == 302
    assert Appointment.objects.get(is_forced=True).patient_id == world.caller.pk
    grid = client.get(done["Location"]).content.decode()
    assert "Forced" in grid and "APPELANT Paul" in grid
    # From the agenda's "any time" form: a wall-clock time outside the hours reaches the same page.
    outside = client.get(url, {"motif": slot["motif"], "site": slot["site"], "at": "2026-03-03T19:00"})
    assert outside.status_code == 200 and stamp(f.paris(2026, 3, 3, 19, 0)) in outside.content.decode()
