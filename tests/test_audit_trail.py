"""Every read and write of personal data leaves an audit row naming exactly the records touched."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from creneau.audit.models import AuditAccess, AuditEvent
from creneau.booking import selectors as booking_selectors
from creneau.booking import services
from creneau.booking.models import Appointment
from creneau.booking.services import SlotRef
from creneau.core.errors import NotFound
from creneau.patients.selectors import access_patient
from creneau.privacy.selectors import access_journal

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db


def _book(w: World, hour: int, day: int = 3) -> Appointment:
    return services.appointment_book(
        actor=w.patient_actor,
        patient_id=w.patient.pk,
        slot=SlotRef(w.doc.pk, w.motif.pk, w.site.pk, f.paris(2026, 3, day, hour, 0)),
    )


def mark() -> int:
    last = AuditEvent.objects.order_by("-id").first()
    return last.pk if last else 0


def test_reading_an_appointment_records_who_read_which_records(world: World) -> None:
    appt = _book(world, 9)
    since = mark()
    booking_selectors.access_appointment(world.secretary, appt.pk)
    event = AuditEvent.objects.get(pk__gt=since)
    assert (event.action, event.object_type, event.outcome, event.actor_kind) == ("read", "appointment", "ok", "staff")
    assert event.principal == world.secretary.key and event.actor_role == "secretary"
    access = AuditAccess.objects.get(event=event)
    assert (access.appointment_id, access.patient_id, access.organization_id) == (
        appt.pk,
        world.patient.pk,
        world.org.pk,
    )


def test_a_list_records_every_record_it_returned(world: World) -> None:
    appts = [_book(world, 9, day) for day in (3, 4, 5)]  # one a day: the spacing rule
    since = mark()
    shown = booking_selectors.agenda(
        world.secretary, practitioner_id=world.doc.pk, start=f.paris(2026, 3, 3), end=f.paris(2026, 3, 6)
    )
    assert len(shown) == 3
    event = AuditEvent.objects.get(pk__gt=since)
    assert event.action == "search" and event.record_count == 3
    assert set(AuditAccess.objects.filter(event=event).values_list("appointment_id", flat=True)) == {
        a.pk for a in appts
    }


def test_a_refused_lookup_is_recorded_as_not_found(world: World) -> None:
    appt = _book(world, 9)
    since = mark()
    with pytest.raises(NotFound):
        booking_selectors.access_appointment(world.outsider, appt.pk)
    event = AuditEvent.objects.get(pk__gt=since)
    assert event.outcome == "not_found" and event.record_count == 0
    assert not AuditAccess.objects.filter(event=event).exists()


def test_a_booking_writes_its_audit_row_in_the_same_transaction(world: World) -> None:
    before = AuditEvent.objects.filter(action="create").count()
    with pytest.raises(RuntimeError), transaction.atomic():
        _book(world, 9)
        assert AuditEvent.objects.filter(action="create").count() == before + 1
        raise RuntimeError("roll back")
    assert AuditEvent.objects.filter(action="create").count() == before


def test_audit_rows_hold_no_personal_values(world: World) -> None:
    _book(world, 9)
    access_patient(world.patient_actor, world.patient.pk)
    values = " ".join(str(v) for row in AuditEvent.objects.values_list() for v in row) + " ".join(
        str(v) for row in AuditAccess.objects.values_list() for v in row
    )
    p = world.patient
    for secret in (p.family_name, p.given_name, p.email, p.phone, p.birth_date.isoformat()):
        assert secret not in values


def test_audited_querysets_refuse_to_project_personal_columns(world: World) -> None:
    from creneau.patients.selectors import patients_visible_to

    with pytest.raises(TypeError):
        list(patients_visible_to(world.patient_actor).values_list("family_name"))
    assert list(patients_visible_to(world.patient_actor).values_list("pk", flat=True)) == [world.patient.pk]


def test_patient_journal_shows_the_practice_that_read_their_appointment(world: World) -> None:
    appt = _book(world, 9)
    booking_selectors.access_appointment(world.secretary, appt.pk)
    journal = access_journal(world.patient_actor)
    staff_reads = [e for e in journal if e.who == "staff"]
    assert staff_reads and staff_reads[0].organization == "Cabinet Lumière"
    assert staff_reads[0].role == "secretary" and staff_reads[0].action == "read"
    assert all(e.who != "you" for e in journal)


def test_journal_does_not_show_other_peoples_records(world: World) -> None:
    _u, other, other_actor = f.patient_account(given_name="Bob")
    services.appointment_book(
        actor=other_actor,
        patient_id=other.pk,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 3, 9, 0)),
    )
    booking_selectors.agenda(
        world.secretary,
        practitioner_id=world.doc.pk,
        start=f.paris(2026, 3, 3),
        end=f.paris(2026, 3, 3) + dt.timedelta(days=1),
    )
    assert [e for e in access_journal(world.patient_actor) if e.who == "staff"] == []
