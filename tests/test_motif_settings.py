"""Visit reason settings practices expect: questions before booking (answers kept encrypted with the
appointment and shown to the practice), instructions in the e-mails (never the SMS), age limits
(relatives too), a visit reason offered at one site, categories, and whether it is shown online."""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import translation

from creneau.audit.models import AuditEvent
from creneau.booking import services as booking
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.core.errors import InvalidInput, NotFound, PolicyViolation
from creneau.directory.models import PractitionerSite
from creneau.notifications.models import Kind, MessageChannel, OutboundMessage
from creneau.patients.models import Relationship
from creneau.patients.services import patient_create_for_account
from creneau.scheduling import selectors
from creneau.scheduling import services as scheduling
from creneau.scheduling.models import Motif, MotifQuestion

from . import factories as f
from .web_support import refresh, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _french() -> Iterator[None]:
    """Service messages in the default language, whatever an earlier test left active."""
    with translation.override("fr"):
        yield


SLOT = f.paris(2026, 3, 3, 9, 0)  # Tuesday 09:00, the day after the frozen Monday morning


def _get(world: Any, name: str) -> Any:
    """The world fixture as a dict or as an object (both shapes have existed)."""
    return world[name] if isinstance(world, dict) else getattr(world, name)


@pytest.fixture
def w(world: Any) -> types.SimpleNamespace:
    names = (
        "org",
        "site",
        "doc",
        "agenda",
        "motif",
        "user",
        "patient",
        "patient_actor",
        "secretary",
        "caller",
        "outsider",
    )
    return types.SimpleNamespace(**{n: _get(world, n) for n in names})


def _slot(w: types.SimpleNamespace, start: dt.datetime = SLOT, site: Any = None) -> SlotRef:
    return SlotRef(w.doc.pk, w.motif.pk, (site or w.site).pk, start)


def _audits(via: str) -> int:
    return AuditEvent.objects.filter(via=via).count()


# --- questions before booking ------------------------------------------------------------------------


def test_a_question_with_no_text_is_refused_and_nothing_is_added(w: types.SimpleNamespace) -> None:
    with pytest.raises(InvalidInput) as exc:
        scheduling.motif_question_add(actor=w.secretary, motif_id=w.motif.pk, text="   ")
    assert str(exc.value.message) == "Écrivez la question."
    assert not MotifQuestion.objects.exists()
    assert _audits("motif_question_add") == 0


def test_staff_outside_the_organization_cannot_add_or_remove_a_question(w: types.SimpleNamespace) -> None:
    with pytest.raises(NotFound):
        scheduling.motif_question_add(actor=w.outsider, motif_id=w.motif.pk, text="Ordonnance ?")
    q = scheduling.motif_question_add(actor=w.secretary, motif_id=w.motif.pk, text="Ordonnance ?")
    with pytest.raises(NotFound):
        scheduling.motif_question_delete(actor=w.outsider, question_id=q.pk)
    assert MotifQuestion.objects.filter(pk=q.pk).exists()
    scheduling.motif_question_delete(actor=w.secretary, question_id=q.pk)
    assert not MotifQuestion.objects.exists()
    assert _audits("motif_question_add") == 1 and _audits("motif_question_delete") == 1


def test_a_required_question_must_be_answered_online_and_the_hold_is_kept(w: types.SimpleNamespace) -> None:
    q = scheduling.motif_question_add(actor=w.secretary, motif_id=w.motif.pk, text="Avez-vous une ordonnance ?")
    hold = booking.slot_hold(actor=w.patient_actor, slot=_slot(w))
    with pytest.raises(InvalidInput) as exc:
        booking.hold_confirm(actor=w.patient_actor, hold_id=hold.pk, patient_id=w.patient.pk, answers={})
    assert "Avez-vous une ordonnance ?" in str(exc.value.message)
    hold.refresh_from_db()
    assert hold.status == Status.HELD and hold.patient_id is None
    done = booking.hold_confirm(
        actor=w.patient_actor, hold_id=hold.pk, patient_id=w.patient.pk, answers={str(q.pk): "Oui, du Dr Martin"}
    )
    assert done.status == Status.BOOKED
    stored = Appointment.objects.get(pk=done.pk)
    assert stored.answer_list() == [{"q": "Avez-vous une ordonnance ?", "a": "Oui, du Dr Martin"}]


def test_answers_are_encrypted_at_rest(w: types.SimpleNamespace) -> None:
    q = scheduling.motif_question_add(actor=w.secretary, motif_id=w.motif.pk, text="Symptômes ?")
    a = booking.appointment_book(
        actor=w.patient_actor, slot=_slot(w), patient_id=w.patient.pk, answers={str(q.pk): "Eczéma sévère"}
    )
    with connection.cursor() as cur:
        cur.execute(
            "SELECT answers FROM booking_appointment WHERE id = %s",
            [a.pk.hex if connection.vendor == "sqlite" else a.pk],
        )
        (raw,) = cur.fetchone()
    assert raw and "Eczéma" not in raw and "Symptômes" not in raw
    assert Appointment.objects.get(pk=a.pk).answer_list()[0]["a"] == "Eczéma sévère"


def test_an_answer_too_long_is_refused_and_nothing_is_booked(w: types.SimpleNamespace) -> None:
    q = scheduling.motif_question_add(actor=w.secretary, motif_id=w.motif.pk, text="Détails ?", required=False)
    with pytest.raises(InvalidInput):
        booking.appointment_book(
            actor=w.patient_actor, slot=_slot(w), patient_id=w.patient.pk, answers={str(q.pk): "x" * 501}
        )
    assert not Appointment.objects.filter(status=Status.BOOKED).exists()


def test_a_move_keeps_the_answers(w: types.SimpleNamespace) -> None:
    q = scheduling.motif_question_add(actor=w.secretary, motif_id=w.motif.pk, text="Allergies ?")
    a = booking.appointment_book(
        actor=w.patient_actor, slot=_slot(w), patient_id=w.patient.pk, answers={str(q.pk): "Pénicilline"}
    )
    moved = booking.appointment_reschedule(actor=w.secretary, appointment_id=a.pk, new_start=f.paris(2026, 3, 4, 10))
    assert Appointment.objects.get(pk=moved.pk).answer_list() == [{"q": "Allergies ?", "a": "Pénicilline"}]


def test_the_practice_sees_the_answers_on_the_appointment_page(w: types.SimpleNamespace) -> None:
    q = scheduling.motif_question_add(actor=w.secretary, motif_id=w.motif.pk, text="Allergies ?")
    a = booking.appointment_book(
        actor=w.patient_actor, slot=_slot(w), patient_id=w.patient.pk, answers={str(q.pk): "Pénicilline"}
    )
    page = signed_in(w.secretary.user).get(reverse("web:staff_appointment", args=[a.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Allergies ?" in body and "Pénicilline" in body


def test_the_booking_form_asks_the_questions_and_refuses_a_missing_answer(w: types.SimpleNamespace) -> None:
    q = scheduling.motif_question_add(actor=w.secretary, motif_id=w.motif.pk, text="Avez-vous une ordonnance ?")
    hold = booking.slot_hold(actor=w.patient_actor, slot=_slot(w))
    client = signed_in(w.user)
    url = reverse("web:book_details", args=[hold.pk])
    assert "Avez-vous une ordonnance ?" in client.get(url).content.decode()
    refused = client.post(url, {"patient": str(w.patient.pk)})
    assert refused.status_code == 200
    assert "Veuillez répondre à cette question." in refused.content.decode()
    assert Appointment.objects.get(pk=hold.pk).status == Status.HELD
    done = client.post(url, {"patient": str(w.patient.pk), f"ans-q_{q.pk}": "Oui"})
    assert done.status_code == 302
    assert Appointment.objects.get(pk=hold.pk).answer_list() == [{"q": "Avez-vous une ordonnance ?", "a": "Oui"}]


def test_staff_add_and_remove_questions_on_the_visit_reason_page(w: types.SimpleNamespace) -> None:
    client = signed_in(w.secretary.user)
    url = reverse("web:staff_motif", args=[w.motif.pk])
    empty = client.post(url, {"action": "question_add", "q-text": "  ", "q-required": "on"})
    assert empty.status_code == 400
    assert "Écrivez la question." in empty.content.decode()
    assert not MotifQuestion.objects.exists()
    assert client.post(url, {"action": "question_add", "q-text": "Carte de groupe sanguin ?"}).status_code == 302
    q = MotifQuestion.objects.get()
    assert q.text == "Carte de groupe sanguin ?" and q.required is False
    assert "Carte de groupe sanguin ?" in client.get(url).content.decode()
    assert client.post(url, {"action": "question_delete", "question": str(q.pk)}).status_code == 302
    assert not MotifQuestion.objects.exists()


# --- instructions ------------------------------------------------------------------------------------


def test_instructions_go_in_the_confirmation_and_reminder_emails_never_in_the_sms(w: types.SimpleNamespace) -> None:
    scheduling.motif_update(
        actor=w.secretary, motif_id=w.motif.pk, instructions="Venez à jeun. Apportez la carte Vitale."
    )
    a = booking.appointment_book(actor=w.patient_actor, slot=_slot(w, f.paris(2026, 3, 6, 9)), patient_id=w.patient.pk)
    rows = list(OutboundMessage.objects.filter(appointment_id=a.pk))
    emails = [r for r in rows if r.channel == MessageChannel.EMAIL]
    sms = [r for r in rows if r.channel == MessageChannel.SMS]
    assert {r.kind for r in emails} >= {Kind.BOOKING_CONFIRMATION, Kind.REMINDER}
    assert all("Venez à jeun. Apportez la carte Vitale." in r.body_text for r in emails)
    assert sms and all("jeun" not in r.body_text and w.motif.name not in r.body_text for r in sms)


def test_instructions_with_a_web_link_are_refused_and_nothing_changes(w: types.SimpleNamespace) -> None:
    with pytest.raises(InvalidInput) as exc:
        scheduling.motif_update(actor=w.secretary, motif_id=w.motif.pk, instructions="Voir https://example.org")
    assert "lien" in str(exc.value.message) or "link" in str(exc.value.message)
    assert Motif.objects.get(pk=w.motif.pk).instructions == ""


# --- age limits --------------------------------------------------------------------------------------


def test_age_limits_min_above_max_are_refused_and_nothing_changes(w: types.SimpleNamespace) -> None:
    with pytest.raises(InvalidInput):
        scheduling.motif_update(actor=w.secretary, motif_id=w.motif.pk, min_age_years=18, max_age_years=16)
    m = Motif.objects.get(pk=w.motif.pk)
    assert (m.min_age_years, m.max_age_years) == (None, None)
    assert _audits("motif_update") == 0


def test_a_visit_reason_for_adults_refuses_a_child_relative_with_a_clear_message(w: types.SimpleNamespace) -> None:
    scheduling.motif_update(actor=w.secretary, motif_id=w.motif.pk, min_age_years=18)
    child = patient_create_for_account(
        actor=w.patient_actor,
        relationship=Relationship.CHILD,
        given_name="Léo",
        family_name="Patiente",
        birth_date=dt.date(2015, 6, 1),
        sex="M",
    )
    hold = booking.slot_hold(actor=w.patient_actor, slot=_slot(w))
    with pytest.raises(PolicyViolation) as exc:
        booking.hold_confirm(actor=w.patient_actor, hold_id=hold.pk, patient_id=child.pk)
    assert str(exc.value.message) == "Ce motif est réservé aux patients de 18 ans ou plus."
    assert Appointment.objects.get(pk=hold.pk).status == Status.HELD
    adult = booking.hold_confirm(actor=w.patient_actor, hold_id=hold.pk, patient_id=w.patient.pk)  # born 1985
    assert adult.status == Status.BOOKED


def test_age_is_counted_on_the_day_of_the_visit(w: types.SimpleNamespace) -> None:
    # Turns 18 on Wednesday 4 March 2026: refused on the Tuesday, accepted on the Wednesday.
    scheduling.motif_update(actor=w.secretary, motif_id=w.motif.pk, min_age_years=18, max_age_years=65)
    teen = patient_create_for_account(
        actor=w.patient_actor,
        relationship=Relationship.CHILD,
        given_name="Zoé",
        family_name="Patiente",
        birth_date=dt.date(2008, 3, 4),
        sex="F",
    )
    with pytest.raises(PolicyViolation) as exc:
        booking.appointment_book(actor=w.patient_actor, slot=_slot(w), patient_id=teen.pk)
    assert str(exc.value.message) == "Ce motif est réservé aux patients de 18 à 65 ans."
    ok = booking.appointment_book(actor=w.patient_actor, slot=_slot(w, f.paris(2026, 3, 4, 9)), patient_id=teen.pk)
    assert ok.status == Status.BOOKED


def test_age_refusal_in_french_on_the_booking_page(w: types.SimpleNamespace) -> None:
    scheduling.motif_update(actor=w.secretary, motif_id=w.motif.pk, max_age_years=15)
    hold = booking.slot_hold(actor=w.patient_actor, slot=_slot(w))
    page = signed_in(w.user).post(reverse("web:book_details", args=[hold.pk]), {"patient": str(w.patient.pk)})
    assert "Ce motif est réservé aux patients de 15 ans ou moins." in page.content.decode()
    assert Appointment.objects.get(pk=hold.pk).status == Status.HELD


# --- site, category, online visibility ----------------------------------------------------------------


def test_a_visit_reason_offered_at_one_site_has_slots_only_there(w: types.SimpleNamespace) -> None:
    other = f.site(w.org, city="Villeurbanne", postcode="69100")
    PractitionerSite.objects.create(practitioner=w.doc, site=other)
    f.weekly_rule(w.doc, other, weekday=1, start="14:00", end="16:00")
    scheduling.motif_update(actor=w.secretary, motif_id=w.motif.pk, site_id=other.pk)
    found = selectors.free_slots(
        practitioner_id=w.doc.pk, motif_id=w.motif.pk, start=f.paris(2026, 3, 3), end=f.paris(2026, 3, 4)
    )
    assert found and {s.site_id for s in found} == {other.pk}
    with pytest.raises(NotFound):
        booking.appointment_book(actor=w.patient_actor, slot=_slot(w), patient_id=w.patient.pk)
    a = booking.appointment_book(
        actor=w.patient_actor, slot=_slot(w, f.paris(2026, 3, 3, 14), site=other), patient_id=w.patient.pk
    )
    assert a.site_id == other.pk


def test_a_site_of_another_organization_is_refused(w: types.SimpleNamespace) -> None:
    foreign = f.site(f.organization("Ailleurs"))
    with pytest.raises(NotFound):
        scheduling.motif_update(actor=w.secretary, motif_id=w.motif.pk, site_id=foreign.pk)
    assert Motif.objects.get(pk=w.motif.pk).site_id is None


def test_a_hidden_visit_reason_is_neither_listed_nor_bookable_online(w: types.SimpleNamespace) -> None:
    scheduling.motif_update(actor=w.secretary, motif_id=w.motif.pk, shown_online=False)
    m = Motif.objects.get(pk=w.motif.pk)
    assert m.bookable_online is False
    with pytest.raises(PolicyViolation):
        booking.appointment_book(actor=w.patient_actor, slot=_slot(w), patient_id=w.patient.pk)
    assert booking.appointment_book(actor=w.secretary, slot=_slot(w), patient_id=w.caller.pk).status == Status.BOOKED
    refresh(w.doc)
    page = signed_in(w.user).get(reverse("web:practitioner", args=[w.doc.pk])).content.decode()
    assert "Consultation" not in page


def test_the_public_page_groups_visit_reasons_by_category_and_marks_phone_only_ones(w: types.SimpleNamespace) -> None:
    scheduling.motif_update(actor=w.secretary, motif_id=w.motif.pk, category="Consultations")
    scheduling.motif_create(
        actor=w.secretary,
        agenda_id=w.agenda.pk,
        name="Vaccin grippe",
        duration_minutes=10,
        category="Vaccinations",
        bookable_online=False,
        min_age_years=65,
    )
    page = signed_in(w.user).get(reverse("web:practitioner", args=[w.doc.pk])).content.decode()
    assert "<h3>Consultations</h3>" in page and "<h3>Vaccinations</h3>" in page
    assert page.index("Vaccinations") < page.index("Vaccin grippe")
    assert "par téléphone uniquement" in page and "65 ans et plus" in page


def test_staff_edit_every_setting_from_the_visit_reason_page(w: types.SimpleNamespace) -> None:
    client = signed_in(w.secretary.user)
    url = reverse("web:staff_motif", args=[w.motif.pk])
    form = {
        "name": "Consultation",
        "duration_minutes": 30,
        "buffer_minutes": 0,
        "audience": "all",
        "channel": "in_person",
        "min_notice_minutes": 0,
        "max_horizon_days": 90,
        "bookable_online": "on",
        "shown_online": "on",
        "category": "Consultations",
        "site_id": str(w.site.pk),
        "instructions": "Apportez vos anciennes ordonnances.",
        "min_age_years": 18,
        "max_age_years": "",
    }
    bad = client.post(url, {**form, "min_age_years": 20, "max_age_years": 10})
    assert bad.status_code == 400
    assert "âge minimum ne peut pas dépasser l&#x27;âge maximum." in bad.content.decode()
    assert client.post(url, form).status_code == 302
    m = Motif.objects.get(pk=w.motif.pk)
    assert (m.category, m.site_id, m.min_age_years, m.max_age_years) == ("Consultations", w.site.pk, 18, None)
    assert m.instructions == "Apportez vos anciennes ordonnances."


def test_a_practice_booking_without_answers_is_allowed(w: types.SimpleNamespace) -> None:
    scheduling.motif_question_add(actor=w.secretary, motif_id=w.motif.pk, text="Ordonnance ?")
    a = booking.appointment_book(actor=w.secretary, slot=_slot(w), patient_id=w.caller.pk)
    assert a.status == Status.BOOKED and Appointment.objects.get(pk=a.pk).answer_list() == []
