"""Practice pages: agenda per practitioner of the user's organizations only, phone bookings, settings."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.scheduling.models import Absence, Motif, OpeningRule

from . import factories as f
from .personas import World
from .web_support import signed_in, stamp

pytestmark = pytest.mark.django_db


def secretary(w: World) -> Client:
    return signed_in(f.user_of(w.secretary))


def test_secretary_sees_booked_free_and_blocked_times_in_the_week(world: World) -> None:
    services.appointment_book(
        actor=world.secretary,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 2, 9, 0)),
        patient_id=world.caller.pk,
    )
    Absence.objects.create(
        agenda=world.agenda,
        practitioner=world.doc,
        start_at=f.paris(2026, 3, 3, 9, 0),
        end_at=f.paris(2026, 3, 3, 12, 0),
        label="Congrès",
    )
    html = secretary(world).get(f"/en/practice/agenda/{world.agenda.pk}/").content.decode()
    assert "APPELANT Paul" in html  # booked
    assert 'class="blk entry free' in html and "09:30" in html  # free
    assert "Congrès" in html  # blocked


def test_day_view_and_date_navigation(world: World) -> None:
    client = secretary(world)
    html = client.get(f"/en/practice/agenda/{world.agenda.pk}/", {"view": "day", "date": "2026-03-04"}).content.decode()
    assert "Wed 4 Mar" in html and "date=2026-03-03" in html and "date=2026-03-05" in html


def test_bad_date_is_a_400(world: World) -> None:
    response = secretary(world).get(f"/en/practice/agenda/{world.agenda.pk}/", {"date": "2026-13-45"})
    assert response.status_code == 400
    assert "This date is not valid." in response.content.decode()


def test_a_secretary_cannot_see_another_organizations_agenda(world: World) -> None:
    outsider = signed_in(f.user_of(world.outsider))
    assert outsider.get(f"/practice/agenda/{world.agenda.pk}/").status_code == 404
    assert outsider.get(f"/practice/agenda/{world.agenda.pk}/settings/").status_code == 404
    assert outsider.get(f"/practice/agenda/{world.agenda.pk}/book/").status_code == 404


def test_a_patient_has_no_practice_pages(world: World) -> None:
    client = signed_in(world.user)
    assert client.get("/practice/").status_code == 404
    assert client.get(f"/practice/agenda/{world.agenda.pk}/").status_code == 404


def test_a_secretary_cannot_open_another_organizations_appointment(world: World) -> None:
    appt = services.appointment_book(
        actor=world.patient_actor,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 3, 9, 0)),
        patient_id=world.patient.pk,
    )
    outsider = signed_in(f.user_of(world.outsider))
    assert outsider.get(f"/practice/appointments/{appt.pk}/").status_code == 404
    assert outsider.post(f"/practice/appointments/{appt.pk}/", {"action": "cancel"}).status_code == 404
    appt.refresh_from_db()
    assert appt.status == Status.BOOKED


def test_agenda_runs_a_fixed_number_of_queries(world: World) -> None:
    client = secretary(world)
    url = f"/practice/agenda/{world.agenda.pk}/"
    services.appointment_book(
        actor=world.secretary,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 6, 10, 0)),
        patient_id=world.caller.pk,
    )
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for day in (2, 3, 4, 5):
        services.appointment_book(
            actor=world.secretary,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, day, 10, 0)),
            patient_id=world.caller.pk,
        )
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def book_params(w: World, hour: int = 10) -> dict[str, str]:
    return {"motif": str(w.motif.pk), "site": str(w.site.pk), "start": stamp(f.paris(2026, 3, 3, hour, 0))}


def test_phone_booking_for_an_existing_patient_found_by_name(world: World) -> None:
    client = secretary(world)
    url = f"/en/practice/agenda/{world.agenda.pk}/book/"
    found = client.post(
        url, {**book_params(world), "action": "search", "s-name": "appelant", "s-birth_date": "1970-01-01"}
    )
    assert found.status_code == 200 and "APPELANT Paul" in found.content.decode()
    response = client.post(url, {**book_params(world), "action": "book", "patient": str(world.caller.pk)})
    assert response.status_code == 302
    appt = Appointment.objects.get(patient=world.caller)
    assert appt.source == "phone" and appt.start_at == f.paris(2026, 3, 3, 10, 0)


def test_patient_search_needs_a_criterion_and_never_leaks_other_orgs(world: World) -> None:
    client = signed_in(f.user_of(world.outsider))
    other_doc = f.practitioner(f.site(world.other_org))
    f.grant(f.user_of(world.outsider), f.agenda(other_doc))
    url = f"/en/practice/agenda/{f.agenda(other_doc).pk}/book/"
    params = {"motif": str(f.motif(other_doc).pk), "site": str(other_doc.sites.get().pk), "start": "20260303T0900Z"}
    empty = client.post(url, {**params, "action": "search"})
    assert empty.status_code == 400
    assert "Enter part of the name" in empty.content.decode()
    search = client.post(url, {**params, "action": "search", "s-name": "Appelant", "s-birth_date": "1970-01-01"})
    assert "APPELANT" not in search.content.decode()


def test_phone_booking_for_a_new_caller(world: World) -> None:
    client = secretary(world)
    response = client.post(
        f"/practice/agenda/{world.agenda.pk}/book/",
        {
            **book_params(world, 11),
            "action": "create",
            "c-given_name": "Nouveau",
            "c-family_name": "Appelant",
            "c-birth_date": "1961-06-01",
            "c-phone": "+33639980009",
        },
    )
    assert response.status_code == 302
    appt = Appointment.objects.get(start_at=f.paris(2026, 3, 3, 11, 0))
    assert appt.patient is not None and appt.patient.created_by_organization_id == world.org.pk


NEW_CALLER = {
    "action": "create",
    "c-given_name": "Nouveau",
    "c-family_name": "Appelant",
    "c-birth_date": "1961-06-01",
    "c-phone": "+33639980009",
}


def test_create_and_book_on_a_refused_time_creates_no_patient(world: World) -> None:
    from creneau.patients.models import Patient

    services.appointment_book(
        actor=world.patient_actor,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 3, 10, 0)),
        patient_id=world.patient.pk,
    )
    before = Patient.objects.count()
    url = f"/en/practice/agenda/{world.agenda.pk}/book/"
    taken = secretary(world).post(url, {**book_params(world), **NEW_CALLER})
    assert taken.status_code == 409 and "this time has just been taken" in taken.content.decode()
    past = {"motif": str(world.motif.pk), "site": str(world.site.pk), "start": stamp(f.paris(2026, 3, 1, 10, 0))}
    refused = secretary(world).post(url, {**past, **NEW_CALLER})
    assert refused.status_code == 422 and "This time has already passed." in refused.content.decode()
    assert Patient.objects.count() == before


def test_phone_booking_of_a_taken_time_explains_the_conflict(world: World) -> None:
    services.appointment_book(
        actor=world.patient_actor,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 3, 10, 0)),
        patient_id=world.patient.pk,
    )
    response = secretary(world).post(
        f"/en/practice/agenda/{world.agenda.pk}/book/",
        {**book_params(world), "action": "book", "patient": str(world.caller.pk)},
    )
    assert response.status_code == 409
    assert "this time has just been taken" in response.content.decode()


def test_mark_before_start_is_refused_and_cancel_works(world: World) -> None:
    appt = services.appointment_book(
        actor=world.secretary,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 3, 10, 0)),
        patient_id=world.caller.pk,
    )
    client = secretary(world)
    url = f"/en/practice/appointments/{appt.pk}/"
    early = client.post(url, {"action": "no_show"})
    assert early.status_code == 422 and "only once it has started" in early.content.decode()
    assert client.post(url, {"action": "cancel"}).status_code == 302
    appt.refresh_from_db()
    assert appt.status == Status.CANCELLED
    assert client.post(url, {"action": "explode"}).status_code == 400


def test_secretary_moves_an_appointment(world: World) -> None:
    appt = services.appointment_book(
        actor=world.secretary,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 3, 10, 0)),
        patient_id=world.caller.pk,
    )
    client = secretary(world)
    new_start = f.paris(2026, 3, 5, 9, 30)
    response = client.post(f"/practice/appointments/{appt.pk}/", {"action": "move", "start": new_start.isoformat()})
    assert response.status_code == 302
    assert Appointment.objects.get(rescheduled_from=appt).start_at == new_start


def test_settings_add_motif_opening_hours_and_absence(world: World) -> None:
    client = secretary(world)
    url = f"/practice/agenda/{world.agenda.pk}/settings/"
    assert client.get(url).status_code == 200
    r = client.post(
        url,
        {
            "action": "motif_create",
            "m-name": "Suivi",
            "m-duration_minutes": "15",
            "m-buffer_minutes": "0",
            "m-audience": "returning",
            "m-channel": "in_person",
            "m-min_notice_minutes": "60",
            "m-max_horizon_days": "30",
            "m-bookable_online": "on",
        },
    )
    assert r.status_code == 302 and Motif.objects.filter(name="Suivi").exists()
    r = client.post(
        url,
        {
            "action": "rule_create",
            "r-site": str(world.site.pk),
            "r-weekday": "0",
            "r-start_time": "14:00",
            "r-end_time": "18:00",
            "r-valid_from": "2026-03-02",
        },
    )
    assert r.status_code == 302 and OpeningRule.objects.filter(practitioner=world.doc, start_time="14:00").exists()
    r = client.post(
        url,
        {
            "action": "absence_create",
            "a-start_at": "2026-03-10T08:00",
            "a-end_at": "2026-03-10T12:00",
            "a-label": "Formation",
        },
    )
    assert r.status_code == 302
    assert Absence.objects.get(label="Formation").start_at == f.paris(2026, 3, 10, 8, 0)


def test_settings_overlapping_hours_get_the_service_message(world: World) -> None:
    response = secretary(world).post(
        f"/en/practice/agenda/{world.agenda.pk}/settings/",
        {
            "action": "rule_create",
            "r-site": str(world.site.pk),
            "r-weekday": "0",
            "r-start_time": "10:00",
            "r-end_time": "11:00",
            "r-valid_from": "2026-03-02",
        },
    )
    assert response.status_code == 400
    assert "overlap" in response.content.decode()


def test_settings_invalid_form_is_a_400(world: World) -> None:
    response = secretary(world).post(
        f"/en/practice/agenda/{world.agenda.pk}/settings/",
        {"action": "absence_create", "a-start_at": "2026-03-10T12:00", "a-end_at": "2026-03-10T08:00"},
    )
    assert response.status_code == 400
    assert "An absence must end after it starts." in response.content.decode()


def test_secretary_edits_a_visit_reason(world: World) -> None:
    client = secretary(world)
    url = f"/practice/motifs/{world.motif.pk}/"
    assert client.get(url).status_code == 200
    data = {
        "name": "Consultation longue",
        "duration_minutes": "45",
        "buffer_minutes": "5",
        "audience": "all",
        "channel": "in_person",
        "min_notice_minutes": "0",
        "max_horizon_days": "90",
        "bookable_online": "on",
    }
    assert client.post(url, data).status_code == 302
    world.motif.refresh_from_db()
    assert (world.motif.name, world.motif.duration_minutes) == ("Consultation longue", 45)
    bad = client.post("/en" + url, {**data, "duration_minutes": "2"})
    assert bad.status_code == 400 and "greater than or equal to 5" in bad.content.decode()
    assert signed_in(f.user_of(world.outsider)).get(url).status_code == 404


def test_organization_admins_find_api_access_and_exports_from_the_practice_home(
    client: Client, db: None, monday_morning: None
) -> None:
    from creneau.accounts.models import Role

    org = f.organization("Cabinet Admin")
    f.practitioner(f.site(org))
    admin = f.staff(org, Role.ORG_ADMIN)
    secretary = f.staff(org)
    client.force_login(f.user_of(admin))
    page = client.get("/practice/").content.decode()
    assert "/practice/api-access/" in page and "/practice/exports/" in page
    client.force_login(f.user_of(secretary))
    page = client.get("/practice/").content.decode()
    assert "/practice/exports/" not in page
