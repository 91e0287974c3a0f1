"""The patient file for staff: a patient known to the organization, with upcoming and past
appointments and the missed ones counted; an audited read; a 404 for anyone else."""

from __future__ import annotations

import uuid

import pytest
from django.utils import translation

from creneau.audit.models import AuditEvent
from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.core import clock
from creneau.core.errors import Conflict, PolicyViolation
from creneau.notifications.models import Kind, OutboundMessage
from creneau.patients.models import BookingBlock, PatientNote
from creneau.patients.services import patient_booking_block, patient_booking_unblock

from . import factories as f
from .personas import World
from .web_support import signed_in

pytestmark = pytest.mark.django_db


def test_patient_file_lists_history_and_counts_no_shows(world: World) -> None:
    def book(day: int) -> object:
        return services.appointment_book(
            actor=world.secretary,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, day, 9, 0)),
            patient_id=world.caller.pk,
        )

    missed, kept, later = book(3), book(4), book(20)
    with clock.frozen_at(f.paris(2026, 3, 5, 8, 0)):
        services.appointment_mark(actor=world.secretary, appointment_id=missed.pk, status=Status.NO_SHOW)  # type: ignore[attr-defined]
        services.appointment_mark(actor=world.secretary, appointment_id=kept.pk, status=Status.FULFILLED)  # type: ignore[attr-defined]
        reads = AuditEvent.objects.count()
        response = signed_in(f.user_of(world.secretary)).get(f"/en/practice/patients/{world.caller.pk}/")
        assert AuditEvent.objects.count() > reads  # the read is in the trail
    html = response.content.decode()
    assert response.status_code == 200 and "APPELANT Paul" in html
    assert '<strong class="no-shows">1</strong>' in html
    upcoming = html[html.index("Upcoming appointments") : html.index("History")]
    assert "20 Mar 2026" in upcoming and "3 Mar 2026" not in upcoming
    history = html[html.index("History") :]
    assert "No-show" in history and "Fulfilled" in history
    assert f"/practice/appointments/{later.pk}/" in html  # type: ignore[attr-defined]


def test_patient_file_is_a_404_outside_the_organization(world: World) -> None:
    url = f"/practice/patients/{world.caller.pk}/"
    assert signed_in(f.user_of(world.outsider)).get(url).status_code == 404
    assert signed_in(world.user).get(url).status_code == 404
    assert signed_in(f.user_of(world.secretary)).get("/practice/patients/not-an-id/").status_code == 404


# --- search, notes, excused no-shows, online-booking blocks ----------------------------------------


def _slot(world: World, day: int, hour: int = 9) -> SlotRef:
    return SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, day, hour, 0))


def test_the_search_page_finds_a_patient_by_part_of_the_name_and_links_the_file(world: World) -> None:
    client = signed_in(f.user_of(world.secretary))
    assert client.get("/en/practice/patients/").status_code == 200
    found = client.post("/en/practice/patients/", {"name": "pelan"})  # "Appelant", any part
    html = found.content.decode()
    assert found.status_code == 200 and f"/practice/patients/{world.caller.pk}/" in html and "APPELANT" in html
    by_phone = client.post("/en/practice/patients/", {"phone": "06 39 98 00 02"}).content.decode()
    assert "APPELANT" in by_phone
    by_birth = client.post("/en/practice/patients/", {"birth_date": "1970-01-01"}).content.decode()
    assert "APPELANT" in by_birth
    outsider = signed_in(f.user_of(world.outsider)).post("/en/practice/patients/", {"name": "appelant"})
    assert outsider.status_code == 200 and "APPELANT" not in outsider.content.decode()


def test_the_search_page_explains_bad_input(world: World) -> None:
    client = signed_in(f.user_of(world.secretary))
    empty = client.post("/en/practice/patients/", {})
    assert empty.status_code == 400 and "Enter part of the name" in empty.content.decode()
    short = client.post("/en/practice/patients/", {"name": "a"})
    assert short.status_code == 400 and "at least two letters" in short.content.decode()
    fr = client.post("/practice/patients/", {"name": "a"})
    assert "au moins deux lettres" in fr.content.decode()


def test_notes_are_kept_for_the_organization_only_and_audited(world: World) -> None:
    url = f"/en/practice/patients/{world.caller.pk}/"
    client = signed_in(f.user_of(world.secretary))
    response = client.post(url, {"action": "note", "text": "Prefers mornings; hard of hearing."})
    assert response.status_code == 302
    assert PatientNote.objects.filter(patient=world.caller).count() == 1
    reads = AuditEvent.objects.count()
    html = client.get(url).content.decode()
    assert "Prefers mornings; hard of hearing." in html
    assert AuditEvent.objects.filter(object_type="patient_note").count() >= 2  # written, then read
    assert AuditEvent.objects.count() > reads
    # A colleague of the same practice sees it; another practice cannot even open the file.
    colleague = f.staff(world.org)
    assert "Prefers mornings" in signed_in(f.user_of(colleague)).get(url).content.decode()
    assert signed_in(f.user_of(world.outsider)).get(url).status_code == 404


def test_an_empty_note_or_a_foreign_patient_changes_nothing(world: World) -> None:
    client = signed_in(f.user_of(world.secretary))
    url = f"/en/practice/patients/{world.caller.pk}/"
    empty = client.post(url, {"action": "note", "text": "   "})
    assert empty.status_code == 400 and "Write the note first" in empty.content.decode()
    foreign = signed_in(f.user_of(world.outsider)).post(url, {"action": "note", "text": "Hello"})
    made_up = signed_in(f.user_of(world.outsider)).post(
        f"/en/practice/patients/{uuid.uuid4()}/", {"action": "note", "text": "x"}
    )
    assert foreign.status_code == made_up.status_code == 404
    assert PatientNote.objects.count() == 0


def test_excused_no_shows_are_counted_apart(world: World) -> None:
    missed = services.appointment_book(actor=world.secretary, slot=_slot(world, 3), patient_id=world.caller.pk)
    excused = services.appointment_book(actor=world.secretary, slot=_slot(world, 4), patient_id=world.caller.pk)
    with clock.frozen_at(f.paris(2026, 3, 5, 8, 0)):
        services.appointment_mark(actor=world.secretary, appointment_id=missed.pk, status=Status.NO_SHOW)
        signed_in(f.user_of(world.secretary)).post(
            f"/en/practice/appointments/{excused.pk}/", {"action": "no_show_excused"}
        )
        html = signed_in(f.user_of(world.secretary)).get(f"/en/practice/patients/{world.caller.pk}/").content.decode()
    assert '<strong class="no-shows">2</strong>' in html and "(1 excused)" in html


def test_blocking_online_booking_tells_the_patient_and_refuses_their_next_booking(world: World) -> None:
    services.appointment_book(actor=world.patient_actor, slot=_slot(world, 3), patient_id=world.patient.pk)
    url = f"/en/practice/patients/{world.patient.pk}/"
    client = signed_in(f.user_of(world.secretary))
    unconfirmed = client.post(url, {"action": "block", "reason": "3 missed visits"})
    assert unconfirmed.status_code == 400 and "Tick the box" in unconfirmed.content.decode()
    assert not BookingBlock.objects.exists()
    assert client.post(url, {"action": "block", "reason": "3 missed visits", "confirm": "yes"}).status_code == 302
    told = OutboundMessage.objects.get(kind=Kind.BOOKING_BLOCKED)
    assert told.user_id == world.user.pk and "Cabinet Lumière" in told.subject
    assert "3 missed visits" not in told.body_text  # the reason stays in the practice's file
    with pytest.raises(PolicyViolation, match="no longer accepts online bookings"):
        services.appointment_book(actor=world.patient_actor, slot=_slot(world, 5), patient_id=world.patient.pk)
    assert Appointment.objects.filter(patient=world.patient).count() == 1  # nothing was added
    # The practice still books for them by phone.
    services.appointment_book(actor=world.secretary, slot=_slot(world, 6), patient_id=world.patient.pk)
    page = client.get(url).content.decode()
    assert "Online booking blocked" in page and "3 missed visits" in page
    assert client.post(url, {"action": "unblock"}).status_code == 302
    assert OutboundMessage.objects.filter(kind=Kind.BOOKING_UNBLOCKED, user=world.user).exists()
    services.appointment_book(actor=world.patient_actor, slot=_slot(world, 7), patient_id=world.patient.pk)


def test_the_block_message_is_in_french_for_a_french_patient(world: World) -> None:
    services.appointment_book(actor=world.patient_actor, slot=_slot(world, 3), patient_id=world.patient.pk)
    world.user.language = "fr"
    world.user.save(update_fields=["language"])
    patient_booking_block(actor=world.secretary, patient_id=world.patient.pk, organization_id=world.org.pk)
    with pytest.raises(PolicyViolation) as refused, translation.override("fr"):
        services.appointment_book(actor=world.patient_actor, slot=_slot(world, 5), patient_id=world.patient.pk)
    assert "n’accepte plus les réservations en ligne" in str(refused.value.message)
    assert "réservation en ligne suspendue" in OutboundMessage.objects.get(kind=Kind.BOOKING_BLOCKED).subject


def test_blocking_twice_or_unblocking_an_unblocked_patient_is_a_clear_conflict(world: World) -> None:
    translation.activate("en")  # the messages in English here (French is checked elsewhere)
    patient_booking_block(actor=world.secretary, patient_id=world.caller.pk, organization_id=world.org.pk)
    with pytest.raises(Conflict, match="already blocked"):
        patient_booking_block(actor=world.secretary, patient_id=world.caller.pk, organization_id=world.org.pk)
    patient_booking_unblock(actor=world.secretary, patient_id=world.caller.pk, organization_id=world.org.pk)
    with pytest.raises(Conflict, match="not blocked"):
        patient_booking_unblock(actor=world.secretary, patient_id=world.caller.pk, organization_id=world.org.pk)
    assert BookingBlock.objects.filter(lifted_at__isnull=True).count() == 0


def test_blocking_needs_a_booking_right_in_the_organization(world: World) -> None:
    viewer = f.staff(world.org, all_agendas=False)
    f.grant(f.user_of(viewer), world.agenda, book=False, manage=False)
    response = signed_in(f.user_of(viewer)).post(
        f"/en/practice/patients/{world.caller.pk}/", {"action": "block", "confirm": "yes"}
    )
    assert response.status_code == 403 and not BookingBlock.objects.exists()
