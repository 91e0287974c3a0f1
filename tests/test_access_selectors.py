"""The remaining scoped objects each have one `access_*` selector (issue 12, item 3): API grants and
clients, bulk exports, waiting-list entries and offers, incidents, and the FHIR directory reads. For
each, an object of someone else answers exactly as a missing id (same error, same message, same bytes
over HTTP); a suspended principal is refused; and the writes behind them (grants, revocations, API
clients, export rejection, incidents) leave their audit row in their transaction, or nothing at all
when refused."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from creneau.accounts.models import Role, User
from creneau.audit.models import Action, AuditEvent, Outcome
from creneau.audit.services import principal_suspend
from creneau.core.actors import Actor
from creneau.core.errors import DomainError, NotFound, PermissionDenied
from creneau.directory.models import Organization
from creneau.exports import services as export_services
from creneau.exports.models import BulkExport, ExportStatus
from creneau.exports.selectors import access_export
from creneau.fhir import ids as fhir_ids
from creneau.fhir.models import ApiGrant
from creneau.fhir.selectors import access_api_client, access_api_grant
from creneau.fhir.services import api_client_create, api_grant_create, api_grant_revoke
from creneau.incidents.models import Incident, IncidentStatus
from creneau.incidents.selectors import access_incident
from creneau.incidents.services import incident_open, incident_update
from creneau.notifications import waitlist
from creneau.notifications.models import WaitingListEntry
from creneau.notifications.selectors import access_waitlist_entry

from . import factories as f
from .fhir_support import Api, grant, register_client, tenant, token
from .personas import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Any:
    """Messages compared below are the English msgids (French is the default language)."""
    with translation.override("en"):
        yield


def refusal(call: Any) -> tuple[type, str, str]:
    """What a caller learns from a refused lookup: the error's class, code and message."""
    with pytest.raises(DomainError) as info:
        call()
    return type(info.value), info.value.code, str(info.value.message)


def events(**filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("pk"))


def operator() -> Actor:
    user = User.objects.create_user(f"ops-{uuid.uuid4().hex[:6]}@example.invalid", "correct horse 42", is_staff=True)
    return Actor.for_operator(user)


# --- API grants and clients -----------------------------------------------------------------------------


@pytest.fixture
def grants(world: World) -> dict[str, Any]:
    client_id, _secret = register_client()
    return {
        "client_id": client_id,
        "a": grant(client_id, world.org),
        "b": grant(client_id, world.other_org),
        "admin_a": f.staff(world.org, Role.ORG_ADMIN),
    }


def test_a_grant_of_another_organization_answers_as_a_missing_id(grants: dict) -> None:
    admin = grants["admin_a"]
    assert access_api_grant(admin, grants["a"].pk) == grants["a"]
    foreign = refusal(lambda: access_api_grant(admin, grants["b"].pk))
    missing = refusal(lambda: access_api_grant(admin, uuid.uuid4()))
    malformed = refusal(lambda: access_api_grant(admin, "not-an-id"))
    assert foreign == missing == malformed == (NotFound, "not-found", "Unknown access.")


def test_revoking_another_organizations_grant_changes_nothing_and_audits_nothing(grants: dict) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(NotFound, match=r"Unknown access\."):
        api_grant_revoke(actor=grants["admin_a"], grant_id=grants["b"].pk)
    assert ApiGrant.objects.get(pk=grants["b"].pk).revoked_at is None
    assert AuditEvent.objects.count() == before


def test_a_secretary_cannot_see_a_client_an_admin_can(grants: dict, world: World) -> None:
    assert access_api_client(grants["admin_a"], grants["client_id"]).client_id == grants["client_id"]
    known = refusal(lambda: access_api_client(world.secretary, grants["client_id"]))
    unknown = refusal(lambda: access_api_client(grants["admin_a"], "no-such-client"))
    assert known == unknown == (NotFound, "not-found", "No API client has this client id.")


def test_granting_and_revoking_each_write_their_audit_row(grants: dict, world: World) -> None:
    admin = grants["admin_a"]
    new = api_grant_create(
        actor=admin, client_id=grants["client_id"], organization_id=world.org.pk, scope_list=["system/Slot.rs"]
    )
    [granted] = events(action=Action.GRANT, object_id=str(new.pk))
    assert granted.principal == admin.key and granted.via == "api_grant_create"
    assert granted.changes["scopes"] == [grants["a"].scopes, "system/Slot.rs"]
    assert granted.changes["replaces"] == [str(grants["a"].pk)]
    api_grant_revoke(actor=admin, grant_id=new.pk)
    [revoked] = events(action=Action.REVOKE, object_id=str(new.pk))
    assert revoked.changes == {"client_id": grants["client_id"], "scopes": ["system/Slot.rs", None]}
    api_grant_revoke(actor=admin, grant_id=new.pk)  # already revoked: nothing more to record
    assert len(events(action=Action.REVOKE, object_id=str(new.pk))) == 1


def test_a_refused_grant_leaves_no_grant_and_no_audit_row(grants: dict, world: World) -> None:
    before = (ApiGrant.objects.count(), AuditEvent.objects.count())
    for actor in (world.secretary, world.outsider, grants["admin_a"]):
        with pytest.raises(DomainError):
            api_grant_create(
                actor=actor,
                client_id=grants["client_id"] if actor is not grants["admin_a"] else "no-such-client",
                organization_id=world.org.pk,
                scope_list=["system/Slot.rs"],
            )
    assert (ApiGrant.objects.count(), AuditEvent.objects.count()) == before


def test_creating_an_api_client_is_audited_and_only_the_system_may(world: World) -> None:
    app, _secret = api_client_create(actor=Actor.system(), name="Agenda Pro")
    [created] = events(action=Action.CREATE, object_type="api_client")
    assert created.object_id == app.client_id  # type: ignore[attr-defined]
    assert created.changes["name"] == [None, "Agenda Pro"]
    before = AuditEvent.objects.count()
    with pytest.raises(NotFound):
        api_client_create(actor=f.staff(world.org, Role.ORG_ADMIN), name="Rogue")
    assert AuditEvent.objects.count() == before


def test_a_suspended_admin_can_neither_see_nor_change_grants(grants: dict) -> None:
    admin = grants["admin_a"]
    principal_suspend(principal=admin.key, reason="test")
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        access_api_grant(admin, grants["a"].pk)
    with pytest.raises(PermissionDenied):
        api_grant_revoke(actor=admin, grant_id=grants["a"].pk)
    with pytest.raises(PermissionDenied):
        access_api_client(admin, grants["client_id"])
    assert ApiGrant.objects.get(pk=grants["a"].pk).revoked_at is None
    assert AuditEvent.objects.count() == before


# --- FHIR directory reads -------------------------------------------------------------------------------


@pytest.fixture
def api(monday_morning: None) -> dict[str, Any]:
    a, b = tenant("Cabinet A"), tenant("Cabinet B", city="Lille")
    client_id, secret = register_client()
    grant(client_id, a.org)
    web = Client()
    return {"a": a, "b": b, "client_id": client_id, "api": Api(web, token(web, client_id, secret))}


@pytest.mark.parametrize(
    ("rtype", "attr"),
    [
        ("Organization", "org"),
        ("Location", "site"),
        ("Practitioner", "doc"),
        ("HealthcareService", "motif"),
    ],
)
def test_a_foreign_directory_read_answers_the_bytes_of_a_missing_id(api: dict, rtype: str, attr: str) -> None:
    client = api["api"]
    own = client.get(f"{rtype}/{getattr(api['a'], attr).pk}")
    assert own.status_code == 200
    foreign = client.get(f"{rtype}/{getattr(api['b'], attr).pk}")
    missing = client.get(f"{rtype}/{uuid.uuid4()}")
    malformed = client.get(f"{rtype}/not-an-id")
    assert foreign.status_code == missing.status_code == malformed.status_code == 404
    assert foreign.content == missing.content == malformed.content


def test_a_foreign_slot_answers_the_bytes_of_a_missing_one(api: dict) -> None:
    start = f.paris(2026, 3, 3, 10, 0)
    client = api["api"]
    assert client.get(f"Slot/{api['a'].slot_id(start)}").status_code == 200
    foreign = client.get(f"Slot/{api['b'].slot_id(start)}")
    other_site = client.get(f"Slot/{fhir_ids.slot_id(api['a'].motif.pk, api['b'].site.pk, start)}")
    missing = client.get(f"Slot/{fhir_ids.slot_id(uuid.uuid4(), api['a'].site.pk, start)}")
    malformed = client.get("Slot/too-short")
    assert {r.status_code for r in (foreign, other_site, missing, malformed)} == {404}
    assert foreign.content == other_site.content == missing.content == malformed.content


def test_a_suspended_client_reading_a_malformed_id_is_told_it_is_suspended(api: dict) -> None:
    principal = f"client:{api['client_id']}"
    principal_suspend(principal=principal, reason="test")
    for path in ("Organization/not-an-id", f"Organization/{api['b'].org.pk}", "Slot/too-short"):
        answer = api["api"].get(path)
        assert answer.status_code == 403 and answer["Creneau-Refusal"] == "suspended"
    assert [e.outcome for e in events(principal=principal)] == [Outcome.DENIED] * 3


# --- Bulk exports ---------------------------------------------------------------------------------------


def _export(org: Organization) -> BulkExport:
    requester = f.staff(org, Role.ORG_ADMIN)
    return BulkExport.objects.create(
        organization=org,
        requested_by=f.user_of(requester),
        reason="fin de contrat",
        recipient="DPO",
        recipient_public_key="-",
        marker=uuid.uuid4().hex[:16],
    )


def test_an_export_of_another_organization_answers_as_a_missing_id(world: World) -> None:
    admin = f.staff(world.org, Role.ORG_ADMIN)
    mine, theirs = _export(world.org), _export(world.other_org)
    assert access_export(admin, mine.pk) == mine
    foreign = refusal(lambda: access_export(admin, theirs.pk))
    missing = refusal(lambda: access_export(admin, uuid.uuid4()))
    as_secretary = refusal(lambda: access_export(world.secretary, mine.pk))
    assert foreign == missing == as_secretary == (NotFound, "not-found", "Unknown export.")


def test_rejecting_an_export_is_audited_with_its_status_change(world: World) -> None:
    admin = f.staff(world.org, Role.ORG_ADMIN)
    export = _export(world.org)
    assert export_services.export_reject(actor=admin, export_id=export.pk).status == ExportStatus.REJECTED
    [row] = events(via="export_reject")
    assert row.object_id == str(export.pk) and row.principal == admin.key
    assert row.changes == {"status": ["requested", "rejected"]}


def test_a_refused_rejection_changes_nothing_and_writes_no_row(world: World) -> None:
    export = _export(world.org)
    outsider_admin = f.staff(world.other_org, Role.ORG_ADMIN)
    with pytest.raises(NotFound):
        export_services.export_reject(actor=outsider_admin, export_id=export.pk)
    admin = f.staff(world.org, Role.ORG_ADMIN)
    principal_suspend(principal=admin.key, reason="test")
    with pytest.raises(PermissionDenied):
        export_services.export_reject(actor=admin, export_id=export.pk)
    assert BulkExport.objects.get(pk=export.pk).status == ExportStatus.REQUESTED
    assert not events(via="export_reject")


# --- Waiting list ---------------------------------------------------------------------------------------


@pytest.fixture
def entries(world: World) -> dict[str, Any]:
    mine = waitlist.waitlist_join(actor=world.patient_actor, patient_id=world.patient.pk, motif_id=world.motif.pk)
    _user, other_patient, other_actor = f.patient_account("bob@example.invalid", given_name="Bob")
    theirs = waitlist.waitlist_join(actor=other_actor, patient_id=other_patient.pk, motif_id=world.motif.pk)
    return {"mine": mine, "theirs": theirs}


def test_a_waiting_list_entry_of_another_account_answers_as_a_missing_id(world: World, entries: dict) -> None:
    actor = world.patient_actor
    assert access_waitlist_entry(actor, entries["mine"].pk) == entries["mine"]
    foreign = refusal(lambda: access_waitlist_entry(actor, entries["theirs"].pk))
    missing = refusal(lambda: access_waitlist_entry(actor, uuid.uuid4()))
    as_staff = refusal(lambda: access_waitlist_entry(world.secretary, entries["mine"].pk))
    assert foreign == missing == as_staff == (NotFound, "not-found", "Unknown waiting list entry.")
    refusal(lambda: waitlist.waitlist_leave(actor=actor, entry_id=entries["theirs"].pk))
    assert WaitingListEntry.objects.get(pk=entries["theirs"].pk).status == "active"


def test_reading_a_waiting_list_entry_is_audited_and_a_miss_counted(world: World, entries: dict) -> None:
    actor = world.patient_actor
    access_waitlist_entry(actor, entries["mine"].pk)
    [read] = events(via="access_waitlist_entry", outcome=Outcome.OK)
    assert read.object_id == str(entries["mine"].pk) and read.record_count == 1
    refusal(lambda: access_waitlist_entry(actor, entries["theirs"].pk))
    assert len(events(via="access_waitlist_entry", outcome=Outcome.NOT_FOUND)) == 1


def test_a_suspended_patient_gets_no_entry_and_leaves_no_not_found_trace(world: World, entries: dict) -> None:
    actor = world.patient_actor
    principal_suspend(principal=actor.key, reason="test")
    for entry_id in (entries["mine"].pk, "guess"):
        assert refusal(lambda entry_id=entry_id: access_waitlist_entry(actor, entry_id))[0] is PermissionDenied
    assert not events(principal=actor.key, outcome=Outcome.NOT_FOUND)


def test_listing_the_accounts_waiting_lists_is_one_audited_read(world: World, entries: dict) -> None:
    from creneau.notifications.selectors import waitlist_entries_of_account

    assert waitlist_entries_of_account(world.patient_actor) == [entries["mine"]]
    [listed] = events(via="waitlist_entries_of_account")
    assert listed.action == Action.SEARCH and listed.record_count == 1
    assert waitlist_entries_of_account(world.secretary) == []


# --- Incidents ------------------------------------------------------------------------------------------


def _incident(actor: Actor) -> Incident:
    start = f.paris(2026, 3, 1)
    return incident_open(actor=actor, principal="client:x", start=start, end=start + dt.timedelta(hours=1))


def test_an_incident_is_an_operators_and_others_get_a_missing_ids_answer(world: World) -> None:
    ops = operator()
    incident = _incident(ops)
    assert access_incident(ops, incident.pk) == incident
    hidden = refusal(lambda: access_incident(world.secretary, incident.pk))
    missing = refusal(lambda: access_incident(ops, uuid.uuid4()))
    assert hidden == missing == (NotFound, "not-found", "Unknown incident.")


def test_opening_and_updating_an_incident_are_audited(world: World) -> None:
    ops = operator()
    incident = _incident(ops)
    [opened] = events(via="incident_open")
    assert opened.principal == ops.key and opened.object_id == str(incident.pk)
    assert opened.changes["principal"] == [None, "client:x"]
    incident_update(actor=ops, incident_id=incident.pk, status=IncidentStatus.NOTIFIED, summary="Relu par le DPO")
    [updated] = events(via="incident_update")
    assert updated.changes["status"] == ["open", "notified"]
    assert "DPO" not in str(updated.changes)  # free text stays out of the trail


def test_a_refused_incident_write_leaves_nothing(world: World) -> None:
    before = (Incident.objects.count(), AuditEvent.objects.count())
    with pytest.raises(PermissionDenied):
        _incident(world.secretary)
    assert (Incident.objects.count(), AuditEvent.objects.count()) == before
    incident = _incident(operator())
    before_update = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        incident_update(actor=world.secretary, incident_id=incident.pk, status=IncidentStatus.CLOSED)
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.OPEN
    assert AuditEvent.objects.count() == before_update


# --- Translated messages --------------------------------------------------------------------------------


def test_domain_errors_speak_french_by_default(grants: dict) -> None:
    with translation.override("fr"):
        assert refusal(lambda: fhir_ids.parse_pair_id("x"))[2] == "Introuvable."
        assert refusal(lambda: access_api_grant(grants["admin_a"], uuid.uuid4()))[2] == "Accès inconnu."
        assert refusal(lambda: access_export(grants["admin_a"], uuid.uuid4()))[2] == "Export inconnu."
        from creneau.directory.selectors import _RIGHT_REFUSED

        assert [str(m) for m in _RIGHT_REFUSED.values()] == [
            "Vous ne pouvez pas voir cet agenda.",
            "Vous ne pouvez pas prendre, déplacer ni annuler de rendez-vous dans cet agenda.",
            "Vous ne pouvez pas modifier les motifs, les horaires ni les absences de cet agenda.",
            "Vous ne pouvez pas forcer un rendez-vous dans cet agenda : il faut le droit de forcer des rendez-vous, "
            "donné par un administrateur.",
        ]
        assert translation.gettext("Busy") == "Occupé"


def test_an_operator_moving_an_incident_along_in_the_admin_goes_through_the_audited_service(world: World) -> None:
    from .web_support import signed_in

    ops_user = User.objects.create_superuser("ops-admin@example.invalid", "correct horse battery 42")
    incident = _incident(Actor.for_operator(ops_user))
    client = signed_in(ops_user)
    url = f"/admin/incidents/incident/{incident.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"status": IncidentStatus.CLOSED, "summary": "Clos après revue"})
    assert response.status_code == 302, response.content[:2000]
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.CLOSED
    [updated] = events(via="incident_update")
    assert updated.principal == f"user:{ops_user.pk}" and updated.changes["status"] == ["open", "closed"]
