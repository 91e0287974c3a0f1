"""An absence saved over booked patients: they are shown first, nothing is saved before staff choose;
cancelling tells each patient (through appointment_cancel and the outbox), keeping them says so."""

from __future__ import annotations

import pytest

from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.notifications.models import Kind, OutboundMessage
from creneau.scheduling.models import Absence

from . import factories as f
from .personas import World
from .web_support import signed_in

pytestmark = pytest.mark.django_db

ABSENCE = {
    "action": "absence_create",
    "a-start_at": "2026-03-03T08:00",
    "a-end_at": "2026-03-03T12:00",
    "a-label": "Congrès",
}


def three_booked(w: World) -> list[Appointment]:
    out = [
        services.appointment_book(
            actor=w.secretary,
            slot=SlotRef(w.doc.pk, w.motif.pk, w.site.pk, f.paris(2026, 3, 3, h, m)),
            patient_id=w.caller.pk,
        )
        for h, m in ((9, 0), (10, 0), (11, 30))
    ]
    return out


def settings_url(w: World) -> str:
    return f"/en/practice/agenda/{w.agenda.pk}/settings/"


def test_saving_an_absence_over_booked_patients_shows_them_first_and_saves_nothing(world: World) -> None:
    booked = three_booked(world)
    response = signed_in(f.user_of(world.secretary)).post(settings_url(world), ABSENCE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "3 patients are booked between" in html and html.count("APPELANT Paul") == 3
    assert f"/practice/appointments/{booked[0].pk}/move/" in html
    assert not Absence.objects.exists()
    assert Appointment.objects.filter(status=Status.BOOKED).count() == 3


def test_cancel_them_tells_each_patient_in_the_same_transaction(world: World) -> None:
    three_booked(world)
    before = OutboundMessage.objects.filter(kind=Kind.CANCELLATION).count()
    client = signed_in(f.user_of(world.secretary))
    response = client.post(settings_url(world), {**ABSENCE, "decision": "cancel"})
    assert response.status_code == 302
    assert Absence.objects.get().label == "Congrès"
    assert not Appointment.objects.filter(status=Status.BOOKED).exists()
    cancelled = Appointment.objects.filter(status=Status.CANCELLED)
    assert cancelled.count() == 3 and {a.cancelled_by for a in cancelled} == {"practice"}
    sent = OutboundMessage.objects.filter(kind=Kind.CANCELLATION).count() - before
    assert sent >= 3  # one per patient (e-mail and SMS when the patient has both)
    page = client.get(response["Location"]).content.decode()
    assert "3 appointments cancelled; each patient was told." in page


def test_keep_them_to_move_one_by_one_is_said_not_silent(world: World) -> None:
    three_booked(world)
    client = signed_in(f.user_of(world.secretary))
    response = client.post(settings_url(world), {**ABSENCE, "decision": "keep"})
    assert response.status_code == 302 and "view=day&date=2026-03-03" in response["Location"]
    assert Absence.objects.count() == 1 and Appointment.objects.filter(status=Status.BOOKED).count() == 3
    page = client.get(response["Location"]).content.decode()
    assert "3 appointments are still in it: move them one by one." in page
    assert 'class="blk entry absent' in page and page.count(">Move<") == 3


def test_an_absence_over_no_one_is_saved_at_once_and_a_bad_one_changes_nothing(world: World) -> None:
    client = signed_in(f.user_of(world.secretary))
    empty = {**ABSENCE, "a-start_at": "2026-03-04T08:00", "a-end_at": "2026-03-04T12:00"}
    assert client.post(settings_url(world), empty).status_code == 302
    assert Absence.objects.count() == 1
    backwards = {**ABSENCE, "a-start_at": "2026-03-05T12:00", "a-end_at": "2026-03-05T08:00"}
    response = client.post(settings_url(world), backwards)
    assert response.status_code == 400 and "An absence must end after it starts." in response.content.decode()
    assert Absence.objects.count() == 1


def test_a_refused_cancellation_rolls_the_absence_back(world: World) -> None:
    from creneau.accounts.models import AgendaAccess

    three_booked(world)
    manager = f.staff(world.org, all_agendas=False)
    AgendaAccess.objects.create(user=f.user_of(manager), agenda=world.agenda, can_view=True, can_manage=True)
    response = signed_in(f.user_of(manager)).post(settings_url(world), {**ABSENCE, "decision": "cancel"})
    assert response.status_code == 403  # may change hours and absences, not cancel appointments
    assert not Absence.objects.exists() and Appointment.objects.filter(status=Status.BOOKED).count() == 3
