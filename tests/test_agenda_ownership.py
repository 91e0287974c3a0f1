"""Agendas belong to one organization: a practitioner working for two organizations has two agendas,
and each organization reads and changes only its own, within the rights its staff hold (issue 12).

The scenarios are those that failed on the web: a secretary of A deleting B's opening hours, switching
off a visit reason B uses, seeing or removing B's absence; a practitioner opening a colleague's agenda."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from creneau.accounts.models import Role
from creneau.accounts.selectors import staff_actor
from creneau.audit.models import AuditEvent
from creneau.booking import services as booking
from creneau.booking.models import Appointment
from creneau.booking.services import SlotRef
from creneau.core.actors import Actor
from creneau.core.errors import NotFound, PermissionDenied
from creneau.directory.models import Agenda, Organization, Practitioner, Site
from creneau.patients.services import patient_create_for_organization
from creneau.scheduling import services as scheduling
from creneau.scheduling.models import Absence, Motif, OpeningRule
from creneau.scheduling.selectors import free_slots

from . import factories as f
from .web_support import signed_in

pytestmark = pytest.mark.django_db


def _page(body: bytes) -> str:
    """A page without its per-request CSRF token, to compare two refusals byte for byte."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body.decode())


@dataclasses.dataclass
class Shared:
    """Dr X works for organization A (site a) and organization B (site b)."""

    org_a: Organization
    org_b: Organization
    site_a: Site
    site_b: Site
    doc: Practitioner
    agenda_a: Agenda
    agenda_b: Agenda
    motif_a: Motif
    motif_b: Motif
    rule_a: OpeningRule
    rule_b: OpeningRule
    absence_b: Absence
    secretary_a: Actor
    secretary_b: Actor


@pytest.fixture
def shared(monday_morning: None) -> Shared:
    org_a, org_b = f.organization("Cabinet A"), f.organization("Centre B")
    site_a, site_b = f.site(org_a), f.site(org_b, city="Villeurbanne", postcode="69100")
    doc = f.practitioner(site_a, site_b)
    agenda_a, agenda_b = f.agenda(doc, org_a), f.agenda(doc, org_b)
    motif_a = f.motif(doc, org=org_a, name="Consultation A")
    motif_b = f.motif(doc, org=org_b, name="Consultation B")
    rule_a = f.weekly_rule(doc, site_a, weekday=1)  # Tuesday at A
    rule_b = f.weekly_rule(doc, site_b, weekday=3)  # Thursday at B
    absence_b = Absence.objects.create(
        agenda=agenda_b,
        practitioner=doc,
        start_at=f.paris(2026, 3, 3, 10, 0),
        end_at=f.paris(2026, 3, 3, 11, 0),
        label="Formation B",
    )
    return Shared(
        org_a,
        org_b,
        site_a,
        site_b,
        doc,
        agenda_a,
        agenda_b,
        motif_a,
        motif_b,
        rule_a,
        rule_b,
        absence_b,
        f.staff(org_a),
        f.staff(org_b),
    )


def test_a_secretary_of_a_cannot_delete_the_hours_b_set_and_nothing_is_recorded_as_done(shared: Shared) -> None:
    with pytest.raises(NotFound):
        scheduling.opening_rule_delete(actor=shared.secretary_a, rule_id=shared.rule_b.pk)
    assert OpeningRule.objects.filter(pk=shared.rule_b.pk).exists()
    assert not AuditEvent.objects.filter(action="delete", object_type="openingrule").exists()


def test_b_s_settings_page_is_a_404_for_a_secretary_of_a_and_a_post_changes_nothing(shared: Shared) -> None:
    client = signed_in(f.user_of(shared.secretary_a))
    url = f"/en/practice/agenda/{shared.agenda_b.pk}/settings/"
    missing = client.get("/en/practice/agenda/00000000-0000-4000-8000-000000000000/settings/")
    page = client.get(url)
    assert page.status_code == 404
    assert _page(page.content).replace(str(shared.agenda_b.pk), "ID") == _page(missing.content).replace(
        "00000000-0000-4000-8000-000000000000", "ID"
    )
    posted = client.post(url, {"action": "rule_delete", "rule": str(shared.rule_b.pk)})
    assert posted.status_code == 404
    # Through A's own page the id of B's hours is unknown too.
    own = client.post(
        f"/en/practice/agenda/{shared.agenda_a.pk}/settings/", {"action": "rule_delete", "rule": str(shared.rule_b.pk)}
    )
    assert own.status_code == 404
    assert OpeningRule.objects.filter(pk=shared.rule_b.pk).exists()


def test_a_can_neither_switch_off_b_s_visit_reason_nor_attach_it_to_its_hours(shared: Shared) -> None:
    with pytest.raises(NotFound):
        scheduling.motif_update(actor=shared.secretary_a, motif_id=shared.motif_b.pk, is_active=False)
    assert Motif.objects.get(pk=shared.motif_b.pk).is_active
    with pytest.raises(NotFound):
        scheduling.opening_rule_create(
            actor=shared.secretary_a,
            agenda_id=shared.agenda_a.pk,
            site_id=shared.site_a.pk,
            weekday=4,
            start_time=dt.time(9),
            end_time=dt.time(12),
            valid_from=dt.date(2026, 1, 1),
            motif_ids=[shared.motif_b.pk],
        )
    assert not OpeningRule.objects.filter(weekday=4).exists()


def test_switching_off_a_s_visit_reason_leaves_b_s_bookable(shared: Shared) -> None:
    scheduling.motif_update(actor=shared.secretary_a, motif_id=shared.motif_a.pk, is_active=False)
    week = (f.paris(2026, 3, 2), f.paris(2026, 3, 9))
    assert free_slots(practitioner_id=shared.doc.pk, motif_id=shared.motif_b.pk, start=week[0], end=week[1])


def test_an_absence_entered_by_b_blocks_the_time_at_a_but_a_sees_only_busy_time(shared: Shared) -> None:
    tuesday = (f.paris(2026, 3, 3), f.paris(2026, 3, 4))
    starts = {
        s.start
        for s in free_slots(practitioner_id=shared.doc.pk, motif_id=shared.motif_a.pk, start=tuesday[0], end=tuesday[1])
    }
    assert f.paris(2026, 3, 3, 9, 30) in starts and f.paris(2026, 3, 3, 10, 0) not in starts
    html = (
        signed_in(f.user_of(shared.secretary_a))
        .get(f"/en/practice/agenda/{shared.agenda_a.pk}/", {"view": "day", "date": "2026-03-03"})
        .content.decode()
    )
    assert "Busy" in html and "Formation B" not in html
    settings_page = signed_in(f.user_of(shared.secretary_a)).get(f"/en/practice/agenda/{shared.agenda_a.pk}/settings/")
    assert str(shared.absence_b.pk) not in settings_page.content.decode()
    with pytest.raises(NotFound):
        scheduling.absence_delete(actor=shared.secretary_a, absence_id=shared.absence_b.pk)
    with pytest.raises(NotFound):
        scheduling.absence_update(actor=shared.secretary_a, absence_id=shared.absence_b.pk, label="x")
    assert Absence.objects.get(pk=shared.absence_b.pk).label == "Formation B"
    # B itself sees its label.
    b_html = (
        signed_in(f.user_of(shared.secretary_b))
        .get(f"/en/practice/agenda/{shared.agenda_b.pk}/", {"view": "day", "date": "2026-03-03"})
        .content.decode()
    )
    assert "Formation B" in b_html


def test_a_visit_reason_of_b_cannot_be_booked_at_a_s_site(shared: Shared) -> None:
    _user, patient, actor = f.patient_account()
    with pytest.raises(NotFound):
        booking.appointment_book(
            actor=actor,
            slot=SlotRef(shared.doc.pk, shared.motif_b.pk, shared.site_a.pk, f.paris(2026, 3, 3, 9, 0)),
            patient_id=patient.pk,
        )
    assert not Appointment.objects.exists()


def test_every_agenda_setting_change_is_audited_with_what_changed(shared: Shared) -> None:
    actor = shared.secretary_a
    motif = scheduling.motif_create(
        actor=actor, agenda_id=shared.agenda_a.pk, name="Vaccin", duration_minutes=15, min_notice_minutes=0
    )
    scheduling.motif_update(actor=actor, motif_id=motif.pk, duration_minutes=20)
    rule = scheduling.opening_rule_create(
        actor=actor,
        agenda_id=shared.agenda_a.pk,
        site_id=shared.site_a.pk,
        weekday=0,
        start_time=dt.time(14),
        end_time=dt.time(18),
        valid_from=dt.date(2026, 1, 1),
    )
    scheduling.opening_rule_update(actor=actor, rule_id=rule.pk, end_time=dt.time(19))
    absence = scheduling.absence_create(
        actor=actor,
        agenda_id=shared.agenda_a.pk,
        start_at=f.paris(2026, 4, 1),
        end_at=f.paris(2026, 4, 2),
        label="Congé",
    )
    scheduling.absence_update(actor=actor, absence_id=absence.pk, end_at=f.paris(2026, 4, 3))
    scheduling.absence_delete(actor=actor, absence_id=absence.pk)
    scheduling.opening_rule_delete(actor=actor, rule_id=rule.pk)
    events = list(AuditEvent.objects.exclude(object_type__in=["patient", "appointment"]).order_by("id"))
    assert [(e.action, e.object_type) for e in events] == [
        ("create", "motif"),
        ("update", "motif"),
        ("create", "openingrule"),
        ("update", "openingrule"),
        ("create", "absence"),
        ("update", "absence"),
        ("delete", "absence"),
        ("delete", "openingrule"),
    ]
    assert all(e.principal == actor.key for e in events)
    assert events[1].object_id == str(motif.pk) and events[1].changes == {"duration_minutes": [15, 20]}
    assert events[3].changes == {"end_time": ["18:00:00", "19:00:00"]}
    assert events[5].changes["end_at"][1].startswith("2026-04-02T22:00:00")  # stored in UTC
    assert "Congé" not in str([e.changes for e in events])  # an absence's reason stays out of the trail
    assert events[7].changes["weekday"] == [0, None]


def test_a_practitioner_sees_only_their_own_agenda_unless_granted(shared: Shared) -> None:
    colleague = f.practitioner(shared.site_a)
    colleague_agenda = f.agenda(colleague)
    user = f.user_of(f.staff(shared.org_a, Role.PRACTITIONER, practitioner=shared.doc))
    client = signed_in(user)
    assert client.get(f"/en/practice/agenda/{shared.agenda_a.pk}/").status_code == 200
    assert client.get(f"/en/practice/agenda/{shared.agenda_a.pk}/settings/").status_code == 200
    assert client.get(f"/en/practice/agenda/{colleague_agenda.pk}/").status_code == 404
    assert client.get(f"/en/practice/agenda/{shared.agenda_b.pk}/").status_code == 404  # own, but at B
    home = client.get("/en/practice/").content.decode()
    assert str(colleague_agenda.pk) not in home and str(shared.agenda_a.pk) in home
    with pytest.raises(NotFound):
        scheduling.absence_create(
            actor=staff_actor(user),
            agenda_id=colleague_agenda.pk,
            start_at=f.paris(2026, 4, 1),
            end_at=f.paris(2026, 4, 2),
        )
    # Granted to see only: the agenda opens, its settings say which right is missing, nothing changes.
    f.grant(user, colleague_agenda, book=False, manage=False)
    assert client.get(f"/en/practice/agenda/{colleague_agenda.pk}/").status_code == 200
    refused = client.get(f"/en/practice/agenda/{colleague_agenda.pk}/settings/")
    assert refused.status_code == 403
    assert "You may not change the visit reasons, hours or absences of this agenda." in refused.content.decode()
    with pytest.raises(PermissionDenied):
        scheduling.motif_create(actor=staff_actor(user), agenda_id=colleague_agenda.pk, name="X", duration_minutes=15)
    assert not Motif.objects.filter(name="X").exists()


def test_a_secretary_with_view_only_cannot_book_move_or_cancel(shared: Shared) -> None:
    secretary = f.staff(shared.org_a, all_agendas=False)
    f.grant(f.user_of(secretary), shared.agenda_a, book=False, manage=False)
    actor = staff_actor(f.user_of(secretary))
    patient = patient_create_for_organization(
        actor=shared.secretary_a,
        organization_id=shared.org_a.pk,
        family_name="Appelant",
        given_name="Paul",
        birth_date=dt.date(1970, 1, 1),
        phone="+33639980002",
    )
    with pytest.raises(PermissionDenied):
        booking.appointment_book(
            actor=actor,
            slot=SlotRef(shared.doc.pk, shared.motif_a.pk, shared.site_a.pk, f.paris(2026, 3, 3, 9, 0)),
            patient_id=patient.pk,
        )
    booked = booking.appointment_book(
        actor=shared.secretary_a,
        slot=SlotRef(shared.doc.pk, shared.motif_a.pk, shared.site_a.pk, f.paris(2026, 3, 3, 9, 0)),
        patient_id=patient.pk,
    )
    with pytest.raises(PermissionDenied):
        booking.appointment_cancel(actor=actor, appointment_id=booked.pk)
    assert Appointment.objects.get(pk=booked.pk).status == "booked"
    html = (
        signed_in(f.user_of(secretary))
        .get(f"/en/practice/agenda/{shared.agenda_a.pk}/", {"view": "day", "date": "2026-03-03"})
        .content.decode()
    )
    assert "/book/" not in html  # no booking links without the right


@pytest.mark.django_db(transaction=True)
def test_the_migration_splits_a_shared_practitioner_s_settings_into_one_agenda_per_organization(
    migrations_as_owner: None,
) -> None:
    """Rows from before agendas: the visit reason, absence and hours of a practitioner working for A and
    B end up in both organizations' agendas, and B's appointment points at B's copy of the visit reason."""
    import uuid

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [
        ("directory", "0003_search_fields"),
        ("scheduling", "0001_initial"),
        ("accounts", "0003_encrypt_email"),
        ("booking", "0002_no_overlap"),
    ]
    after = [("scheduling", "0004_agenda_required"), ("accounts", "0005_agenda_access_data")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        Org, SiteM, Pract, Link = (
            old.get_model("directory", n) for n in ("Organization", "Site", "Practitioner", "PractitionerSite")
        )
        MotifM, RuleM, AbsenceM = (old.get_model("scheduling", n) for n in ("Motif", "OpeningRule", "Absence"))
        UserM, MembershipM = old.get_model("accounts", "User"), old.get_model("accounts", "Membership")
        AppointmentM = old.get_model("booking", "Appointment")
        f.ensure_specialties()
        orgs = [Org.objects.create(id=uuid.uuid4(), name=n, kind="practice") for n in ("A", "B")]
        sites = [
            SiteM.objects.create(
                id=uuid.uuid4(), organization=o, name=o.name, address="1 rue", postcode="69003", city="Lyon",
                latitude=45.7, longitude=4.8,
            )
            for o in orgs
        ]  # fmt: skip
        doc = Pract.objects.create(
            id=uuid.uuid4(), rpps="19900000009", given_name="X", family_name="Y", specialty_id="SM15"
        )
        for s in sites:
            Link.objects.create(practitioner=doc, site=s)
        motif = MotifM.objects.create(id=uuid.uuid4(), practitioner=doc, name="Consultation", duration_minutes=30)
        rules = [
            RuleM.objects.create(
                id=uuid.uuid4(), practitioner=doc, site=s, weekday=d, start_time=dt.time(9), end_time=dt.time(12),
                valid_from=dt.date(2026, 1, 1),
            )
            for d, s in enumerate(sites)
        ]  # fmt: skip
        rules[1].motifs.add(motif)
        AbsenceM.objects.create(
            id=uuid.uuid4(), practitioner=doc, start_at=f.paris(2026, 3, 3), end_at=f.paris(2026, 3, 4), label="Congé"
        )
        at_b = AppointmentM.objects.create(
            id=uuid.uuid4(), practitioner=doc, site=sites[1], organization=orgs[1], motif=motif,
            start_at=f.paris(2026, 3, 2, 9), end_at=f.paris(2026, 3, 2, 9, 30), busy_until=f.paris(2026, 3, 2, 9, 30),
            status="cancelled", actor_key="system:test",
        )  # fmt: skip
        user = UserM.objects.create(id=uuid.uuid4(), email="s@example.invalid", email_bidx="x" * 20, password="!")
        MembershipM.objects.create(id=uuid.uuid4(), user=user, organization=orgs[1], role="secretary")
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    finally:
        # Every app back at its latest migration, whatever happened above (later tests need the full schema).
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    from creneau.accounts.models import AgendaAccess

    agendas = {a.organization_id: a for a in Agenda.objects.filter(practitioner_id=doc.pk)}
    assert set(agendas) == {orgs[0].pk, orgs[1].pk}
    motifs = {m.agenda.organization_id: m for m in Motif.objects.filter(practitioner_id=doc.pk)}
    assert set(motifs) == set(agendas) and {m.name for m in motifs.values()} == {"Consultation"}
    assert Appointment.objects.get(pk=at_b.pk).motif_id == motifs[orgs[1].pk].pk
    rule_b = OpeningRule.objects.get(pk=rules[1].pk)
    assert rule_b.agenda_id == agendas[orgs[1].pk].pk
    assert list(rule_b.motifs.values_list("pk", flat=True)) == [motifs[orgs[1].pk].pk]
    assert {a.agenda.organization_id for a in Absence.objects.filter(practitioner_id=doc.pk)} == set(agendas)
    access = AgendaAccess.objects.get(user_id=user.pk)
    assert access.agenda_id == agendas[orgs[1].pk].pk and access.can_manage
