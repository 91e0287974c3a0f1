"""What one phone booking costs the database: a regression guard on its round trips and commits."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from creneau.audit.models import Action, AuditAccess, AuditEvent, Outcome
from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.core.errors import NotFound, PolicyViolation
from creneau.notifications.models import Kind, OutboundMessage
from creneau.scheduling.models import AvailabilityIndex
from creneau.scheduling.services import availability_refresh

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db(transaction=True)

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")


def test_a_phone_booking_takes_a_fixed_number_of_statements_in_two_commits(world: World) -> None:
    availability_refresh(practitioner_ids=[world.doc.pk])
    start = f.paris(2026, 3, 4, 9, 0)
    free = start.astimezone(dt.UTC).isoformat()
    assert free in AvailabilityIndex.objects.get(practitioner=world.doc, motif=world.motif).starts
    with CaptureQueriesContext(connection) as ctx:
        booked = services.appointment_book(
            actor=world.secretary,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, start),
            patient_id=world.caller.pk,
        )
    sql = [q["sql"] for q in ctx.captured_queries]
    statements = [s for s in sql if not s.startswith(TRANSACTION_CONTROL)]
    # Slot check (motif, site, rules, absences + taken), the agenda lock, the check that no forced
    # booking covers the time (forced rows are outside the no-overlap constraint), the row, the audited
    # patient read (one statement with its detection count on PostgreSQL), whether reminders are switched
    # off (agenda, visit reason, patient: one query), the messages and their delivery tasks (one now,
    # one for the day-before reminder) in the same transaction, whether a partner's subscription
    # follows the agenda or the site (one query, fhir.notify), the audit event; then the index update
    # (under the practitioner's index lock).
    expected = 20 if connection.vendor == "postgresql" else 23
    assert len(statements) == expected, f"{len(statements)}: " + "\n".join(statements)
    if connection.vendor == "postgresql":
        assert sql.count("COMMIT") == 2  # the booking with its delivery tasks, the availability index
    # Everything the booking promises is there.
    assert Appointment.objects.get(pk=booked.pk).status == Status.BOOKED
    kinds = sorted(OutboundMessage.objects.filter(appointment_id=booked.pk).values_list("kind", flat=True))
    assert kinds == [Kind.BOOKING_CONFIRMATION, Kind.REMINDER]  # the SMS the day before (no e-mail on file)
    starts = AvailabilityIndex.objects.get(practitioner=world.doc, motif=world.motif).starts
    assert free not in starts


# The patient is read inside the booking's transaction: a booking refused after that read must still
# leave the read (or the not-found answer) in the audit trail.


def test_a_booking_refused_after_reading_the_patient_keeps_the_read_in_the_audit_trail(world: World) -> None:
    world.motif.audience = "returning"
    world.motif.save()
    with pytest.raises(PolicyViolation):
        services.appointment_book(
            actor=world.patient_actor,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 2, 9, 0)),
            patient_id=world.patient.pk,
        )
    assert not Appointment.objects.exists()
    reads = AuditAccess.objects.filter(patient_id=world.patient.pk, event__action=Action.READ)
    assert reads.count() == 1
    assert not AuditEvent.objects.filter(action=Action.CREATE, object_type="appointment").exists()


def test_a_booking_for_an_unknown_patient_is_audited_as_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        services.appointment_book(
            actor=world.secretary,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 2, 9, 0)),
            patient_id=uuid.uuid4(),
        )
    assert not Appointment.objects.exists()
    misses = AuditEvent.objects.filter(principal=world.secretary.key, outcome=Outcome.NOT_FOUND)
    assert misses.filter(object_type="patient").count() == 1


def test_the_row_being_booked_does_not_make_another_organizations_patient_reachable(world: World) -> None:
    from creneau.patients.services import patient_create_for_organization

    theirs = patient_create_for_organization(
        actor=world.outsider,
        organization_id=world.other_org.pk,
        family_name="Ailleurs",
        given_name="Zoé",
        birth_date=dt.date(1980, 5, 5),
        phone="+33639980009",
    )
    with pytest.raises(NotFound):
        services.appointment_book(
            actor=world.secretary,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 2, 9, 0)),
            patient_id=theirs.pk,
        )
    assert not Appointment.objects.exists()
