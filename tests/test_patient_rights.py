"""GDPR rights: a patient downloads their data, erases their account; retention anonymizes old records."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from fhir.resources.R4B.bundle import Bundle
from pytest_django.fixtures import Settings

from creneau.audit.models import AuditEvent
from creneau.booking import services
from creneau.booking.models import Appointment
from creneau.booking.services import SlotRef
from creneau.core import clock
from creneau.core.errors import NotFound, PermissionDenied
from creneau.patients.models import Patient
from creneau.patients.services import patient_create_for_account, patient_create_for_organization
from creneau.privacy.retention import retention_run
from creneau.privacy.rights import ANONYMIZED, account_erase, patient_data_bundle, patient_data_export
from creneau.scheduling.models import OpeningRule

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db


def _book(w: World, when: dt.datetime, patient_id: uuid.UUID | None = None) -> Appointment:
    return services.appointment_book(
        actor=w.patient_actor,
        patient_id=patient_id or w.patient.pk,
        slot=SlotRef(w.doc.pk, w.motif.pk, w.site.pk, when),
    )


def test_export_contains_identity_and_appointments_and_is_audited(world: World) -> None:
    appt = _book(world, f.paris(2026, 3, 3, 9, 0))
    data = patient_data_export(actor=world.patient_actor, patient_id=world.patient.pk)
    assert data["patient"]["family_name"] == world.patient.family_name
    assert data["patient"]["birth_date"] == "1985-03-14"
    assert [a["id"] for a in data["appointments"]] == [str(appt.pk)]
    assert data["appointments"][0]["practitioner"] == world.doc.display_name
    assert AuditEvent.objects.filter(action="export", principal=world.patient_actor.key).exists()


def test_fhir_bundle_export_validates(world: World) -> None:
    _book(world, f.paris(2026, 3, 3, 9, 0))
    bundle = patient_data_bundle(actor=world.patient_actor, patient_id=world.patient.pk)
    parsed = Bundle.model_validate(bundle)
    assert [e.resource.get_resource_type() for e in parsed.entry or [] if e.resource] == ["Patient", "Appointment"]


def test_nobody_exports_someone_elses_data(world: World) -> None:
    _u, _p, mallory = f.patient_account(given_name="Mallory")
    with pytest.raises(NotFound):
        patient_data_export(actor=mallory, patient_id=world.patient.pk)


def test_erasing_an_account_keeps_the_practices_records_but_not_the_identity(world: World) -> None:
    with clock.frozen_at(f.paris(2026, 2, 20, 7)):
        past = _book(world, f.paris(2026, 2, 20, 9, 0))
    future = _book(world, f.paris(2026, 3, 5, 9, 0))
    child = patient_create_for_account(
        actor=world.patient_actor,
        relationship="child",
        family_name="Patiente",
        given_name="Zoé",
        birth_date=dt.date(2019, 1, 1),
    )
    counts = account_erase(actor=world.patient_actor)
    assert counts == {"cancelled": 1, "anonymized": 1, "deleted": 1}
    p = Patient.objects.get(pk=world.patient.pk)
    assert (p.family_name, p.given_name, p.email, p.phone, p.account_id) == (ANONYMIZED, ANONYMIZED, "", "", None)
    assert not Patient.objects.filter(pk=child.pk).exists()
    future.refresh_from_db()
    past.refresh_from_db()
    assert future.status == "cancelled" and past.status == "booked"
    world.user.refresh_from_db()
    assert not world.user.is_active and world.user.email.endswith("@erased.invalid")
    assert not world.user.has_usable_password()


def test_staff_accounts_cannot_be_erased_this_way(world: World) -> None:
    with pytest.raises(PermissionDenied):
        account_erase(actor=world.secretary)


def test_retention_anonymizes_practice_patients_long_gone_and_spares_recent_ones(
    world: World, settings: Settings
) -> None:
    settings.CRENEAU_RETENTION = {"inactive_patient_days": 365}
    with clock.frozen_at(f.paris(2024, 1, 8, 7)):
        OpeningRule.objects.update(valid_from=dt.date(2023, 1, 1))
        old = patient_create_for_organization(
            actor=world.secretary,
            organization_id=world.org.pk,
            family_name="Ancien",
            given_name="A",
            birth_date=dt.date(1950, 1, 1),
        )
        services.appointment_book(
            actor=world.secretary,
            patient_id=old.pk,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2024, 1, 8, 9, 0)),
        )
    assert retention_run(dry_run=True)["patients_anonymized"] == 1
    retention_run()
    old.refresh_from_db()
    world.caller.refresh_from_db()
    assert old.family_name == ANONYMIZED
    assert world.caller.family_name == "Appelant"  # no appointment yet: not "past its retention"


def test_erasure_cancels_each_future_booking_like_a_cancellation_and_frees_the_slots(world: World) -> None:
    """Through appointment_cancel: a cancel audit row each, the patient told, reminders withdrawn, the
    slot bookable again (and offered to the waiting list), even within the online cancellation deadline."""
    from creneau.notifications.models import Kind, MessageStatus, OutboundMessage

    soon = _book(world, f.paris(2026, 3, 2, 9, 0))  # in two hours: past the 4-hour online deadline
    later = _book(world, f.paris(2026, 3, 5, 10, 0))
    counts = account_erase(actor=world.patient_actor)
    assert counts["cancelled"] == 2
    for appointment in (soon, later):
        appointment.refresh_from_db()
        assert appointment.status == "cancelled" and appointment.cancelled_by == "patient"
    cancels = AuditEvent.objects.filter(action="cancel", object_type="appointment", principal=world.patient_actor.key)
    assert {a.appointment_id for e in cancels for a in e.accesses.all()} == {soon.pk, later.pk}
    assert OutboundMessage.objects.filter(kind=Kind.CANCELLATION, appointment__in=[soon, later]).exists()
    assert not OutboundMessage.objects.filter(
        kind=Kind.REMINDER, appointment__in=[soon, later], status=MessageStatus.PENDING
    ).exists()
    _u, other, other_actor = f.patient_account("autre@example.invalid", given_name="Bruno")
    for when in (f.paris(2026, 3, 2, 9, 0), f.paris(2026, 3, 5, 10, 0)):
        again = services.appointment_book(
            actor=other_actor,
            patient_id=other.pk,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, when),
        )
        assert again.status == "booked"


def test_erasure_fails_whole_if_nothing_cancels_the_future_bookings(world: World, settings: Settings) -> None:
    from django.core.exceptions import ImproperlyConfigured

    future = _book(world, f.paris(2026, 3, 5, 9, 0))
    settings.CRENEAU_EVENT_HANDLERS = {**settings.CRENEAU_EVENT_HANDLERS, "patient.erasing": []}
    with pytest.raises(ImproperlyConfigured):
        account_erase(actor=world.patient_actor)
    future.refresh_from_db()
    world.user.refresh_from_db()
    assert future.status == "booked" and world.user.is_active


def test_erasure_releases_the_slots_the_account_still_holds(world: World) -> None:
    """A booking started but not confirmed: the erased account's hold goes (audited), so the slot is
    bookable by someone else at once rather than when the hold would have expired."""
    slot = SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 5, 11, 0))
    hold = services.slot_hold(actor=world.patient_actor, slot=slot)
    account_erase(actor=world.patient_actor)
    assert not Appointment.objects.filter(pk=hold.pk).exists()
    [released] = AuditEvent.objects.filter(action="delete", object_type="appointment", via="booking")
    assert released.principal == world.patient_actor.key
    assert [a.appointment_id for a in released.accesses.all()] == [hold.pk]
    _u, other, other_actor = f.patient_account("autre@example.invalid", given_name="Bruno")
    assert services.appointment_book(actor=other_actor, patient_id=other.pk, slot=slot).status == "booked"
