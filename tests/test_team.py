"""Organization admins run their team (issue 12, item 2): invitations by e-mail, roles, per-agenda
rights, removal. Every change writes its audit row; every refusal changes nothing and says why."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from html import unescape
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from creneau.accounts import team
from creneau.accounts.errors import InvitationUnusable
from creneau.accounts.models import AgendaAccess, Invitation, Membership, Role, User
from creneau.accounts.selectors import staff_actor
from creneau.accounts.team import AgendaRights
from creneau.audit.models import AuditEvent
from creneau.core import clock
from creneau.core.actors import Actor, AgendaRight
from creneau.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PolicyViolation
from creneau.directory.models import Agenda, Organization, Practitioner
from creneau.directory.selectors import agendas_for
from creneau.notifications import outbox
from creneau.notifications.account import SECRET
from creneau.notifications.models import Kind, MessageStatus, OutboundMessage

from . import factories as f
from .web_support import signed_in

pytestmark = pytest.mark.django_db

ALL = AgendaRights(view=True, book=True, manage=True)
SEE_AND_BOOK = AgendaRights(view=True, book=True)
TEAM_TYPES = ("invitation", "membership", "agenda_access")


@dataclasses.dataclass
class Team:
    """Organization A: Dr One and Dr Two (each with an account), an admin, a secretary with no rights
    yet. Organization B: Dr Three and its own admin."""

    org_a: Organization
    org_b: Organization
    doc1: Practitioner
    doc2: Practitioner
    doc3: Practitioner
    agenda1: Agenda
    agenda2: Agenda
    agenda3: Agenda
    admin_a: Actor
    admin_b: Actor
    doc1_user: User
    secretary: Actor
    secretary_membership: Membership


@pytest.fixture
def t(monday_morning: None) -> Team:
    org_a, org_b = f.organization("Cabinet A"), f.organization("Centre B")
    site_a, site_b = f.site(org_a), f.site(org_b)
    doc1, doc2, doc3 = f.practitioner(site_a), f.practitioner(site_a), f.practitioner(site_b)
    doc1_actor = f.staff(org_a, Role.PRACTITIONER, practitioner=doc1)
    f.staff(org_a, Role.PRACTITIONER, practitioner=doc2)
    secretary = f.staff(org_a, all_agendas=False)
    assert secretary.user is not None and doc1_actor.user is not None
    return Team(
        org_a,
        org_b,
        doc1,
        doc2,
        doc3,
        f.agenda(doc1),
        f.agenda(doc2),
        f.agenda(doc3),
        f.staff(org_a, Role.ORG_ADMIN),
        f.staff(org_b, Role.ORG_ADMIN),
        f.user_of(doc1_actor),
        secretary,
        Membership.objects.get(user=f.user_of(secretary), organization=org_a),
    )


@pytest.fixture(autouse=True)
def _english() -> Any:
    """Refusals are read in English here (the French catalogue is checked on the pages and e-mails)."""
    with translation.override("en"):
        yield


def team_audit(**filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type__in=TEAM_TYPES, **filters).order_by("id"))


def snapshot() -> tuple[Any, ...]:
    """Every row team management could touch, to prove a refusal changed nothing."""
    return (
        sorted(Membership.objects.values_list("user_id", "organization_id", "role", "practitioner_id")),
        sorted(AgendaAccess.objects.values_list("user_id", "agenda_id", "can_view", "can_book", "can_manage")),
        sorted(Invitation.objects.values_list("pk", "accepted_at", "revoked_at")),
        User.objects.count(),
        OutboundMessage.objects.count(),
        AuditEvent.objects.filter(object_type__in=TEAM_TYPES).count(),
    )


def invite(t: Team, email: str = "nouvelle@example.invalid", **kwargs: Any) -> Invitation:
    kwargs.setdefault("role", Role.SECRETARY)
    kwargs.setdefault("rights", {t.agenda1.pk: SEE_AND_BOOK})
    return team.invitation_create(actor=t.admin_a, organization_id=t.org_a.pk, email=email, **kwargs)


def token_from_outbox(email: str) -> str:
    """The invitation e-mail as it leaves: the stored row holds no token, the sent mail does."""
    message = OutboundMessage.objects.filter(kind=Kind.TEAM_INVITATION).order_by("-created_at").first()
    assert message is not None and message.to_address == email
    assert f"/team/invitation/{SECRET}/" in message.body_text
    outbox.deliver_ids([message.pk])
    sent = [m for m in mail.outbox if m.extra_headers.get("Message-ID", "").startswith(f"<{message.pk}@")]
    assert sent and sent[-1].to == [email]
    match = re.search(r"/team/invitation/([A-Za-z0-9_-]+)/", str(sent[-1].body))
    assert match, sent[-1].body
    return match.group(1)


def accept_new(token: str, password: str = "une phrase de passe solide 42") -> Membership:
    return team.invitation_accept(actor=team.visitor(), token=token, password=password)


# --- the round trip --------------------------------------------------------------------------------------


def test_invited_secretary_creates_an_account_must_enrol_totp_and_sees_only_granted_agendas(t: Team) -> None:
    invitation = invite(t, "Nouvelle.Secretaire@Example.invalid")
    token = token_from_outbox("nouvelle.secretaire@example.invalid")
    message = OutboundMessage.objects.get(kind=Kind.TEAM_INVITATION)
    assert "Cabinet A" in message.subject and message.language == "fr" and message.user_id is None
    # Only the hash is stored.
    assert token not in str(Invitation.objects.filter(pk=invitation.pk).values().get())
    assert invitation.token_hash != token and len(invitation.token_hash) == 64

    membership = accept_new(token)
    user = membership.user
    assert user.email == "nouvelle.secretaire@example.invalid" and user.is_active
    assert membership.role == Role.SECRETARY and membership.organization_id == t.org_a.pk
    actor = staff_actor(user)
    assert list(agendas_for(actor)) == [t.agenda1]
    assert actor.agenda_rights(organization_id=t.org_a.pk, practitioner_id=t.doc1.pk) == {
        AgendaRight.VIEW,
        AgendaRight.BOOK,
    }

    created, joined = team_audit()
    assert (created.object_type, created.action, created.principal) == ("invitation", "create", t.admin_a.key)
    assert created.changes["role"] == [None, "secretary"]
    assert created.changes["rights"] == [
        None,
        {str(t.agenda1.pk): {"view": True, "book": True, "manage": False, "force": False}},
    ]
    assert (joined.object_type, joined.action, joined.principal) == ("membership", "create", f"user:{user.pk}")
    assert joined.changes["invitation"] == str(invitation.pk) and joined.changes["account_created"] is True
    assert "nouvelle" not in str(created.changes) + str(joined.changes)  # no address in the trail

    # Staff must set up a second factor before anything else.
    with override_settings(CRENEAU_MFA_ENFORCED=True):
        response = signed_in(user).get(reverse("web:staff_home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:mfa_setup"))


def test_an_existing_account_signs_in_to_accept_and_keeps_its_password(t: Team) -> None:
    user, _patient, patient_actor = f.patient_account("patient.et.secretaire@example.invalid")
    invite(t, "patient.et.secretaire@example.invalid")
    token = token_from_outbox("patient.et.secretaire@example.invalid")
    assert OutboundMessage.objects.get(kind=Kind.TEAM_INVITATION).user_id == user.pk

    with pytest.raises(PermissionDenied, match="sign in"):
        accept_new(token)
    stranger, _p, stranger_actor = f.patient_account()
    with pytest.raises(PermissionDenied, match="another e-mail address"):
        team.invitation_accept(actor=stranger_actor, token=token)
    assert not Membership.objects.filter(user__in=[user, stranger]).exists()

    membership = team.invitation_accept(actor=patient_actor, token=token)
    assert membership.user_id == user.pk
    user.refresh_from_db()
    assert user.check_password("correct horse battery 42")
    assert team_audit(object_type="membership")[0].changes["account_created"] is False


def test_invited_practitioner_gets_their_own_agenda(t: Team) -> None:
    site = f.site(t.org_a)
    doc4 = f.practitioner(site)
    invite(t, "docteur4@example.invalid", role=Role.PRACTITIONER, practitioner_id=doc4.pk, rights={})
    membership = accept_new(token_from_outbox("docteur4@example.invalid"))
    actor = staff_actor(membership.user)
    assert [a.practitioner_id for a in agendas_for(actor, AgendaRight.MANAGE)] == [doc4.pk]


# --- rights, roles, removal --------------------------------------------------------------------------------


def test_rights_change_is_audited_and_emails_the_member_and_the_agendas_practitioner(t: Team) -> None:
    changes = team.agenda_rights_set(
        actor=t.admin_a, membership_id=t.secretary_membership.pk, rights={t.agenda1.pk: SEE_AND_BOOK}
    )
    assert [(c.agenda_id, c.after) for c in changes] == [(t.agenda1.pk, SEE_AND_BOOK)]
    assert staff_actor(t.secretary_membership.user).agenda_rights(
        organization_id=t.org_a.pk, practitioner_id=t.doc1.pk
    ) == {AgendaRight.VIEW, AgendaRight.BOOK}

    (row,) = team_audit(object_type="agenda_access")
    assert (row.action, row.principal, row.object_id) == ("grant", t.admin_a.key, str(t.agenda1.pk))
    assert row.changes["member"] == str(t.secretary_membership.user_id)
    assert row.changes["view"] == [False, True] and row.changes["book"] == [False, True]

    mails = OutboundMessage.objects.filter(kind=Kind.TEAM_RIGHTS_CHANGED)
    assert sorted(str(m.user_id) for m in mails) == sorted([str(t.secretary_membership.user_id), str(t.doc1_user.pk)])
    to_doctor = mails.get(user_id=t.doc1_user.pk)  # in French, the account's language
    assert t.secretary_membership.user.email in to_doctor.body_text
    assert f"{t.doc1.display_name} : aucun accès → voir l'agenda, prendre, déplacer, annuler" in to_doctor.body_text
    assert to_doctor.subject == "Droits modifiés sur les agendas de Cabinet A"

    # Narrowing the rights: an update row from what to what, two more e-mails.
    team.agenda_rights_set(
        actor=t.admin_a, membership_id=t.secretary_membership.pk, rights={t.agenda1.pk: AgendaRights(view=True)}
    )
    update = team_audit(object_type="agenda_access")[-1]
    assert update.action == "update" and update.changes["book"] == [True, False] and "view" not in update.changes
    assert OutboundMessage.objects.filter(kind=Kind.TEAM_RIGHTS_CHANGED).count() == 4

    # The same rights again: nothing written, nobody told.
    before = snapshot()
    assert (
        team.agenda_rights_set(
            actor=t.admin_a, membership_id=t.secretary_membership.pk, rights={t.agenda1.pk: AgendaRights(view=True)}
        )
        == []
    )
    assert snapshot() == before

    # No right at all removes the grant.
    team.agenda_rights_set(
        actor=t.admin_a, membership_id=t.secretary_membership.pk, rights={t.agenda1.pk: AgendaRights()}
    )
    assert not AgendaAccess.objects.filter(user_id=t.secretary_membership.user_id).exists()
    assert team_audit(object_type="agenda_access")[-1].action == "revoke"


def test_role_change_is_audited_and_emails_the_member(t: Team) -> None:
    membership = team.membership_role_change(
        actor=t.admin_a, membership_id=t.secretary_membership.pk, role=Role.ORG_ADMIN
    )
    assert membership.role == Role.ORG_ADMIN
    assert staff_actor(membership.user).is_org_admin(t.org_a.pk)
    (row,) = team_audit(object_type="membership", action="update")
    assert row.changes["role"] == ["secretary", "org_admin"] and row.principal == t.admin_a.key
    mail = OutboundMessage.objects.get(kind=Kind.TEAM_ROLE_CHANGED)
    assert mail.user_id == membership.user_id and "Secrétaire → Administrateur de la structure" in mail.body_text


def test_a_role_change_also_tells_the_practitioners_whose_agendas_it_opens_or_closes(t: Team) -> None:
    """The secretary becomes administrator: every agenda of the organization opens to her, so Dr One
    and Dr Two are told (in French, about their own agenda); she gets the one role e-mail. Back to
    secretary: they are told again. Dr Three, in organization B, never."""
    team.membership_role_change(actor=t.admin_a, membership_id=t.secretary_membership.pk, role=Role.ORG_ADMIN)
    secretary = t.secretary_membership.user
    doc2_user = Membership.objects.get(organization=t.org_a, practitioner=t.doc2).user
    mails = OutboundMessage.objects.filter(kind=Kind.TEAM_RIGHTS_CHANGED)
    assert sorted(str(m.user_id) for m in mails) == sorted([str(t.doc1_user.pk), str(doc2_user.pk)])
    to_doc1 = mails.get(user_id=t.doc1_user.pk)
    assert secretary.email in to_doc1.body_text
    assert f"{t.doc1.display_name} : aucun accès → voir l'agenda, prendre, déplacer" in to_doc1.body_text
    assert t.doc2.display_name not in to_doc1.body_text
    assert list(OutboundMessage.objects.filter(user=secretary).values_list("kind", flat=True)) == [
        Kind.TEAM_ROLE_CHANGED
    ]
    team.membership_role_change(actor=t.admin_a, membership_id=t.secretary_membership.pk, role=Role.SECRETARY)
    assert OutboundMessage.objects.filter(kind=Kind.TEAM_RIGHTS_CHANGED, user=t.doc1_user).count() == 2
    assert not OutboundMessage.objects.filter(kind=Kind.TEAM_RIGHTS_CHANGED, user=secretary).exists()


def test_removing_an_admin_tells_the_practitioners_of_every_agenda(t: Team) -> None:
    promoted = team.membership_role_change(
        actor=t.admin_a, membership_id=t.secretary_membership.pk, role=Role.ORG_ADMIN
    )
    OutboundMessage.objects.all().delete()
    team.membership_remove(actor=t.admin_a, membership_id=promoted.pk)
    to_doc1 = OutboundMessage.objects.get(kind=Kind.TEAM_RIGHTS_CHANGED, user=t.doc1_user)
    assert "→ aucun accès" in to_doc1.body_text


def test_practitioner_role_needs_a_practitioner_of_the_organization(t: Team) -> None:
    before = snapshot()
    with pytest.raises(InvalidInput, match="Choose which practitioner"):
        team.membership_role_change(actor=t.admin_a, membership_id=t.secretary_membership.pk, role=Role.PRACTITIONER)
    with pytest.raises(InvalidInput, match="Unknown practitioner"):
        team.membership_role_change(
            actor=t.admin_a, membership_id=t.secretary_membership.pk, role=Role.PRACTITIONER, practitioner_id=t.doc3.pk
        )
    with pytest.raises(Conflict, match="already has an account"):
        team.membership_role_change(
            actor=t.admin_a, membership_id=t.secretary_membership.pk, role=Role.PRACTITIONER, practitioner_id=t.doc1.pk
        )
    with pytest.raises(InvalidInput, match="Choose which practitioner"):
        invite(t, role=Role.PRACTITIONER)
    with pytest.raises(InvalidInput, match="Choose a role"):
        invite(t, role="superuser")
    assert snapshot() == before


def test_removing_a_member_removes_their_agenda_rights_and_tells_them(t: Team) -> None:
    f.grant(t.secretary_membership.user, t.agenda1)
    f.grant(t.secretary_membership.user, t.agenda3)  # a grant in B (another membership there) stays
    Membership.objects.create(user=t.secretary_membership.user, organization=t.org_b, role=Role.SECRETARY)

    team.membership_remove(actor=t.admin_a, membership_id=t.secretary_membership.pk)
    user = t.secretary_membership.user
    assert not Membership.objects.filter(user=user, organization=t.org_a).exists()
    assert list(AgendaAccess.objects.filter(user=user).values_list("agenda_id", flat=True)) == [t.agenda3.pk]
    assert agendas_for(staff_actor(user)).filter(organization=t.org_a).count() == 0
    removed, revoked = team_audit()
    assert (removed.object_type, removed.action, removed.changes["role"]) == (
        "membership",
        "delete",
        ["secretary", None],
    )
    assert (revoked.object_type, revoked.action, revoked.object_id) == ("agenda_access", "revoke", str(t.agenda1.pk))
    assert OutboundMessage.objects.filter(kind=Kind.TEAM_MEMBER_REMOVED, user=user).count() == 1
    assert OutboundMessage.objects.filter(kind=Kind.TEAM_RIGHTS_CHANGED, user=t.doc1_user).count() == 1


def test_the_last_admin_can_neither_be_removed_nor_demoted(t: Team) -> None:
    mine = Membership.objects.get(user=f.user_of(t.admin_a), organization=t.org_a)
    before = snapshot()
    with pytest.raises(PolicyViolation, match="at least one administrator"):
        team.membership_remove(actor=t.admin_a, membership_id=mine.pk)
    with pytest.raises(PolicyViolation, match="at least one administrator"):
        team.membership_role_change(actor=t.admin_a, membership_id=mine.pk, role=Role.SECRETARY)
    assert snapshot() == before
    # With a second admin, the first may step down.
    team.membership_role_change(actor=t.admin_a, membership_id=t.secretary_membership.pk, role=Role.ORG_ADMIN)
    team.membership_remove(actor=t.admin_a, membership_id=mine.pk)
    assert not Membership.objects.filter(pk=mine.pk).exists()


# --- bad input: a precise refusal, nothing changed ------------------------------------------------------


def test_inviting_an_existing_member_is_refused(t: Team) -> None:
    before = snapshot()
    with pytest.raises(Conflict, match="already a member of your team"):
        invite(t, t.secretary_membership.user.email.upper())
    assert snapshot() == before


def test_inviting_twice_the_same_address_is_refused_until_withdrawn(t: Team) -> None:
    first = invite(t)
    before = snapshot()
    with pytest.raises(Conflict, match="already waiting"):
        invite(t)
    assert snapshot() == before
    team.invitation_revoke(actor=t.admin_a, invitation_id=first.pk)
    invite(t)


@pytest.mark.parametrize("email", ["", "pas-une-adresse", "a@b", "deux@@example.fr", "x" * 250 + "@example.fr"])
def test_a_malformed_email_is_refused(t: Team, email: str) -> None:
    before = snapshot()
    with pytest.raises(InvalidInput, match="valid e-mail address"):
        invite(t, email)
    assert snapshot() == before


def test_a_right_on_an_agenda_of_another_organization_is_refused(t: Team) -> None:
    before = snapshot()
    with pytest.raises(InvalidInput, match="Unknown agenda"):
        invite(t, rights={t.agenda3.pk: ALL})
    with pytest.raises(InvalidInput, match="Unknown agenda"):
        team.agenda_rights_set(
            actor=t.admin_a,
            membership_id=t.secretary_membership.pk,
            rights={t.agenda1.pk: ALL, t.agenda3.pk: ALL},  # all or nothing
        )
    with pytest.raises(InvalidInput, match="Unknown agenda"):
        team.agenda_rights_set(actor=t.admin_a, membership_id=t.secretary_membership.pk, rights={"not-an-id": ALL})
    assert snapshot() == before


def test_a_revoked_link_is_refused(t: Team) -> None:
    invitation = invite(t)
    token = token_from_outbox("nouvelle@example.invalid")
    team.invitation_revoke(actor=t.admin_a, invitation_id=invitation.pk)
    (row,) = team_audit(action="revoke")
    assert (row.object_type, row.object_id, row.principal) == ("invitation", str(invitation.pk), t.admin_a.key)
    before = snapshot()
    with pytest.raises(InvitationUnusable, match="withdrawn") as err:
        accept_new(token)
    assert err.value.code == "revoked" and err.value.http_status == 410
    with pytest.raises(Conflict, match="already withdrawn"):
        team.invitation_revoke(actor=t.admin_a, invitation_id=invitation.pk)
    assert snapshot() == before


def test_a_replayed_link_is_refused(t: Team) -> None:
    invite(t)
    token = token_from_outbox("nouvelle@example.invalid")
    membership = accept_new(token)
    before = snapshot()
    with pytest.raises(InvitationUnusable, match="already been used") as err:
        accept_new(token)
    assert err.value.code == "used"
    with pytest.raises(InvitationUnusable, match="already been used"):
        team.invitation_accept(actor=staff_actor(membership.user), token=token)
    assert snapshot() == before


def test_the_stored_invitation_mail_holds_no_usable_link_the_sent_one_works_once(t: Team) -> None:
    """A copy of the outbox (database dump, the account's message list) cannot be used to join the
    team: the row's link holds a placeholder; the token exists only in the mail as it leaves."""
    invitation = invite(t)
    stored = OutboundMessage.objects.get(kind=Kind.TEAM_INVITATION)
    assert SECRET in stored.body_text and SECRET in stored.body_html
    placeholder = re.search(r"/team/invitation/([A-Za-z0-9_-]+)/", stored.body_text)
    assert placeholder is not None
    before = snapshot()
    with pytest.raises(NotFound, match="not valid"):
        accept_new(placeholder.group(1))
    assert snapshot() == before
    token = token_from_outbox("nouvelle@example.invalid")
    assert token != placeholder.group(1) and token not in OutboundMessage.objects.get(pk=stored.pk).body_text
    stored.refresh_from_db()
    assert stored.status == MessageStatus.SENT and SECRET in stored.body_text  # still not stored once sent
    membership = accept_new(token)
    assert membership.organization_id == t.org_a.pk and Invitation.objects.get(pk=invitation.pk).accepted_at
    before = snapshot()
    with pytest.raises(InvitationUnusable, match="already been used"):
        accept_new(token)
    assert snapshot() == before


def test_an_invitation_withdrawn_before_its_mail_left_is_never_sent(t: Team) -> None:
    invitation = invite(t)
    team.invitation_revoke(actor=t.admin_a, invitation_id=invitation.pk)
    message = OutboundMessage.objects.get(kind=Kind.TEAM_INVITATION)
    assert outbox.deliver_ids([message.pk]) == 0
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and not mail.outbox


def test_an_expired_link_is_refused(t: Team) -> None:
    invite(t)
    token = token_from_outbox("nouvelle@example.invalid")
    before = snapshot()
    with clock.frozen_at(clock.now() + dt.timedelta(days=7, seconds=1)), pytest.raises(InvitationUnusable) as err:
        accept_new(token)
    assert err.value.code == "expired" and "expired" in str(err.value.message)
    assert snapshot() == before


def test_an_unknown_link_is_not_found(t: Team) -> None:
    invite(t)
    token = token_from_outbox("nouvelle@example.invalid")
    for wrong in ("", token[:-1], token + "x", "a" * 43):
        with pytest.raises(NotFound, match="not valid"):
            accept_new(wrong)


def test_a_weak_password_is_refused_and_creates_nothing(t: Team) -> None:
    invite(t)
    token = token_from_outbox("nouvelle@example.invalid")
    before = snapshot()
    with pytest.raises(InvalidInput):
        accept_new(token, password="password")
    with pytest.raises(InvalidInput, match="Choose a password"):
        accept_new(token, password="")
    assert snapshot() == before
    accept_new(token)  # still usable


def test_non_admins_and_other_organizations_admins_can_do_none_of_it(t: Team) -> None:
    invitation = invite(t)
    doc1 = staff_actor(t.doc1_user)
    before = snapshot()
    for actor in (t.secretary, doc1, t.admin_b):
        with pytest.raises(NotFound) as err:
            team.invitation_create(actor=actor, organization_id=t.org_a.pk, email="x@example.invalid", role="secretary")
        assert str(err.value.message) == "Unknown organization."
        with pytest.raises(NotFound, match="Unknown invitation"):
            team.invitation_revoke(actor=actor, invitation_id=invitation.pk)
        for call in (
            lambda a: team.agenda_rights_set(
                actor=a, membership_id=t.secretary_membership.pk, rights={t.agenda1.pk: ALL}
            ),
            lambda a: team.membership_role_change(
                actor=a, membership_id=t.secretary_membership.pk, role=Role.ORG_ADMIN
            ),
            lambda a: team.membership_remove(actor=a, membership_id=t.secretary_membership.pk),
        ):
            with pytest.raises(NotFound, match="Unknown team member"):
                call(actor)
    # A foreign id answers exactly like a missing one.
    with pytest.raises(NotFound, match="Unknown team member"):
        team.membership_remove(actor=t.admin_b, membership_id="00000000-0000-0000-0000-000000000000")
    assert snapshot() == before


# --- the pages -------------------------------------------------------------------------------------------


@pytest.fixture
def french() -> Any:
    """The pages in French, the default language (no /en/ prefix)."""
    with translation.override("fr"):
        yield


def _page(body: bytes) -> str:
    """A page without its per-request CSRF token, to compare two refusals byte for byte."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body.decode())


def fr_client(user: User) -> Any:
    client = signed_in(user)
    client.cookies["django_language"] = "fr"
    return client


def test_staff_home_links_admins_to_the_team_page_which_lists_members_rights_and_invitations(
    t: Team, french: None
) -> None:
    f.grant(t.secretary_membership.user, t.agenda1, manage=False)
    invite(t, "attente@example.invalid")
    admin = signed_in(f.user_of(t.admin_a))
    assert reverse("web:team") in admin.get(reverse("web:staff_home")).content.decode()
    assert (
        reverse("web:team")
        not in signed_in(t.secretary_membership.user).get(reverse("web:staff_home")).content.decode()
    )
    with CaptureQueriesContext(connection) as ctx:
        page = admin.get(reverse("web:team"))
    assert page.status_code == 200
    html = unescape(page.content.decode())
    assert t.secretary_membership.user.email in html and "attente@example.invalid" in html
    assert f"{t.doc1.display_name} : voir l'agenda, prendre, déplacer, annuler, marquer les rendez-vous" in html
    assert "Inviter un membre" in html and "Invitations en attente" in html
    assert len(ctx.captured_queries) <= 20
    # More members and invitations: the same number of queries.
    for _ in range(3):
        f.staff(t.org_a)
    invite(t, "encore@example.invalid")
    with CaptureQueriesContext(connection) as more:
        admin.get(reverse("web:team"))
    assert len(more.captured_queries) == len(ctx.captured_queries)


def test_a_member_with_two_roles_is_listed_once_with_both_roles_and_merged_rights(t: Team, french: None) -> None:
    """Dr One is also the organization's admin: one entry on the team page, both roles each with its
    own links, the rights of either role shown once."""
    Membership.objects.create(user=t.doc1_user, organization=t.org_a, role=Role.ORG_ADMIN)
    f.grant(t.doc1_user, t.agenda2, manage=False)
    html = unescape(fr_client(f.user_of(t.admin_a)).get(reverse("web:team")).content.decode())
    assert html.count(f"<strong>{t.doc1_user.email}</strong>") == 1
    entry = html.split(f"<strong>{t.doc1_user.email}</strong>")[1].split('<li class="team-member">')[0]
    assert "Administrateur" in entry and "Praticien" in entry
    for membership in Membership.objects.filter(user=t.doc1_user, organization=t.org_a):
        assert reverse("web:team_member", args=[membership.pk]) in entry
        assert reverse("web:team_remove", args=[membership.pk]) in entry
    assert entry.count(f"{t.doc2.display_name} : ") == 1 and entry.count(f"{t.doc1.display_name} : ") == 1
    assert f"{t.doc2.display_name} : tous les droits" in entry  # the admin role covers every agenda


def test_invite_on_the_web_then_accept_the_link_and_land_on_the_authenticator_setup(t: Team, french: None) -> None:
    admin = fr_client(f.user_of(t.admin_a))
    form = admin.get(reverse("web:team_invite", args=[t.org_a.pk]))
    assert form.status_code == 200 and f'name="view_{t.agenda1.pk}"' in form.content.decode()
    response = admin.post(
        reverse("web:team_invite", args=[t.org_a.pk]),
        {
            "email": "web.invite@example.invalid",
            "role": "secretary",
            "language": "fr",
            f"book_{t.agenda2.pk}": "on",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("web:team")
    invitation = Invitation.objects.get()
    assert invitation.rights == {str(t.agenda2.pk): {"view": True, "book": True, "manage": False, "force": False}}
    token = token_from_outbox("web.invite@example.invalid")

    visitor = Client()
    page = visitor.get(reverse("web:team_invitation", args=[token]))
    assert page.status_code == 200 and "Rejoindre l’équipe de Cabinet A" in page.content.decode()
    weak = visitor.post(reverse("web:team_invitation", args=[token]), {"password1": "abc", "password2": "abc"})
    assert weak.status_code == 400 and not User.objects.by_email("web.invite@example.invalid").exists()
    with override_settings(CRENEAU_MFA_ENFORCED=True):
        done = visitor.post(
            reverse("web:team_invitation", args=[token]),
            {"password1": "une phrase de passe solide 42", "password2": "une phrase de passe solide 42"},
        )
        assert done.status_code == 302 and done["Location"] == reverse("web:staff_home")
        next_page = visitor.get(done["Location"])
    assert next_page.status_code == 302 and next_page["Location"].startswith(reverse("accounts:mfa_setup"))
    user = User.objects.by_email("web.invite@example.invalid").get()
    assert list(agendas_for(staff_actor(user))) == [t.agenda2]


def test_a_signed_in_patient_accepting_is_sent_to_the_authenticator_setup(t: Team, french: None) -> None:
    user, _p, _a = f.patient_account("deja.patient@example.invalid")
    invite(t, "deja.patient@example.invalid")
    token = token_from_outbox("deja.patient@example.invalid")
    anonymous = Client().get(reverse("web:team_invitation", args=[token]))
    assert "connectez-vous pour accepter" in anonymous.content.decode()
    client = signed_in(user)
    with override_settings(CRENEAU_MFA_ENFORCED=True):
        client.get(reverse("web:account"))  # the session now says "patient"
        done = client.post(reverse("web:team_invitation", args=[token]))
        assert done.status_code == 302
        after = client.get(reverse("web:staff_home"))
    assert after.status_code == 302 and after["Location"].startswith(reverse("accounts:mfa_setup"))


@pytest.mark.parametrize(
    ("post", "status", "message"),
    [
        ({"email": "pas-une-adresse"}, 400, "Saisissez une adresse e-mail valide"),
        ({"email": ""}, 400, "Saisissez l’adresse e-mail de la personne à inviter."),
        ({"email": "MEMBER"}, 409, "Cette personne fait déjà partie de votre équipe."),
        ({"role": "practitioner"}, 400, "Indiquez quel praticien de votre structure est cette personne."),
        ({"role": "root"}, 400, "Choisissez un rôle"),
        (
            {"AGENDA3": "on"},
            400,
            "Agenda inconnu : les droits ne peuvent porter que sur les agendas de votre structure.",
        ),
    ],
)
def test_bad_invitations_on_the_web_get_a_precise_message_and_change_nothing(
    t: Team, french: None, post: dict[str, str], status: int, message: str
) -> None:
    data = {"email": "ok@example.invalid", "role": "secretary", "language": "fr", **post}
    if data["email"] == "MEMBER":
        data["email"] = t.secretary_membership.user.email
    if data.pop("AGENDA3", None):
        data[f"view_{t.agenda3.pk}"] = "on"
    before = snapshot()
    response = fr_client(f.user_of(t.admin_a)).post(reverse("web:team_invite", args=[t.org_a.pk]), data)
    assert response.status_code == status
    assert message in response.content.decode()
    assert snapshot() == before


def test_member_page_changes_rights_and_role_and_refuses_a_foreign_agenda(t: Team, french: None) -> None:
    admin = fr_client(f.user_of(t.admin_a))
    url = reverse("web:team_member", args=[t.secretary_membership.pk])
    page = admin.get(url)
    assert page.status_code == 200 and f'name="manage_{t.agenda2.pk}"' in page.content.decode()
    saved = admin.post(url, {"action": "rights", f"view_{t.agenda2.pk}": "on", f"manage_{t.agenda2.pk}": "on"})
    assert saved.status_code == 302
    assert AgendaRights.of(AgendaAccess.objects.get(user=t.secretary_membership.user)) == AgendaRights(
        True, False, True
    )
    assert team_audit(object_type="agenda_access")[-1].changes["manage"] == [False, True]

    before = snapshot()
    forged = admin.post(url, {"action": "rights", f"view_{t.agenda3.pk}": "on"})
    assert forged.status_code == 400 and "Agenda inconnu" in forged.content.decode()
    refused = admin.post(url, {"action": "role", "r-role": "practitioner", "r-practitioner": str(t.doc3.pk)})
    assert refused.status_code == 400 and "Praticien inconnu" in refused.content.decode()
    assert snapshot() == before

    promoted = admin.post(url, {"action": "role", "r-role": "org_admin"}, follow=True)
    assert "Rôle enregistré. Le membre et les praticiens concernés en ont été informés" in promoted.content.decode()
    assert Membership.objects.get(pk=t.secretary_membership.pk).role == Role.ORG_ADMIN


def test_removal_asks_for_confirmation_and_the_last_admin_is_kept(t: Team, french: None) -> None:
    admin = fr_client(f.user_of(t.admin_a))
    url = reverse("web:team_remove", args=[t.secretary_membership.pk])
    confirm = admin.get(url)
    assert confirm.status_code == 200 and "Oui, retirer" in confirm.content.decode()
    assert Membership.objects.filter(pk=t.secretary_membership.pk).exists()
    assert admin.post(url).status_code == 302
    assert not Membership.objects.filter(pk=t.secretary_membership.pk).exists()

    mine = Membership.objects.get(user=f.user_of(t.admin_a), organization=t.org_a)
    before = snapshot()
    refused = admin.post(reverse("web:team_remove", args=[mine.pk]))
    assert refused.status_code == 422 and "au moins un administrateur" in refused.content.decode()
    assert snapshot() == before


def test_link_pages_say_why_a_link_no_longer_works(t: Team, french: None) -> None:
    first = invite(t, "un@example.invalid")
    revoked = token_from_outbox("un@example.invalid")
    admin = fr_client(f.user_of(t.admin_a))
    assert admin.post(reverse("web:team_revoke", args=[first.pk])).status_code == 302
    assert admin.post(reverse("web:team_revoke", args=[first.pk])).status_code == 409
    invite(t, "deux@example.invalid")
    used = token_from_outbox("deux@example.invalid")
    accept_new(used)
    invite(t, "trois@example.invalid")
    late = token_from_outbox("trois@example.invalid")
    before = snapshot()
    visitor = Client()
    visitor.cookies["django_language"] = "fr"
    password = {"password1": "une phrase de passe solide 42", "password2": "une phrase de passe solide 42"}
    for token, status, words in [
        (revoked, 410, "Cette invitation a été retirée par la structure."),
        (used, 410, "Cette invitation a déjà été utilisée."),
        ("inconnu", 404, "Ce lien d’invitation n’est pas valide."),
    ]:
        for method in (visitor.get, visitor.post):
            response = method(reverse("web:team_invitation", args=[token]), password)
            assert response.status_code == status and words in response.content.decode()
    with clock.frozen_at(clock.now() + dt.timedelta(days=8)):
        expired = visitor.post(reverse("web:team_invitation", args=[late]), password)
    assert expired.status_code == 410 and "Cette invitation a expiré." in expired.content.decode()
    assert snapshot() == before


def test_team_pages_are_404_for_non_admins_and_foreign_ids_look_missing(t: Team, french: None) -> None:
    invitation = invite(t)
    member = t.secretary_membership
    missing = "00000000-0000-0000-0000-000000000000"
    before = snapshot()
    for user in (t.secretary_membership.user, t.doc1_user):
        client = signed_in(user)
        assert client.get(reverse("web:team")).status_code == 404
        assert client.get(reverse("web:team_invite", args=[t.org_a.pk])).status_code == 404
        assert (
            client.post(
                reverse("web:team_invite", args=[t.org_a.pk]),
                {"email": "x@example.invalid", "role": "secretary", "language": "fr"},
            ).status_code
            == 404
        )
        assert (
            client.post(
                reverse("web:team_member", args=[member.pk]), {"action": "role", "r-role": "org_admin"}
            ).status_code
            == 404
        )
        assert client.post(reverse("web:team_remove", args=[member.pk])).status_code == 404
        assert client.post(reverse("web:team_revoke", args=[invitation.pk])).status_code == 404
    other = signed_in(f.user_of(t.admin_b))
    for name, real in (("web:team_member", member.pk), ("web:team_remove", member.pk)):
        foreign, absent = other.get(reverse(name, args=[real])), other.get(reverse(name, args=[missing]))
        assert foreign.status_code == absent.status_code == 404
        assert _page(foreign.content).replace(str(real), missing) == _page(absent.content)
    foreign = other.post(reverse("web:team_revoke", args=[invitation.pk]))
    absent = other.post(reverse("web:team_revoke", args=[missing]))
    assert foreign.status_code == absent.status_code == 404
    assert _page(foreign.content).replace(str(invitation.pk), missing) == _page(absent.content)
    assert other.get(reverse("web:team_invite", args=[t.org_a.pk])).status_code == 404
    assert Client().get(reverse("web:team")).status_code == 302  # to the sign-in page
    assert snapshot() == before


def test_the_invitation_page_is_never_cached_even_anonymously(t: Team, french: None) -> None:
    invite(t)
    response = Client().get(reverse("web:team_invitation", args=[token_from_outbox("nouvelle@example.invalid")]))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
