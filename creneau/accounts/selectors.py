"""Account reads: who a signed-in staff member is for each organization and agenda, memberships and
invitations as an organization admin sees them."""

from __future__ import annotations

import base64
import hashlib
import uuid

from django.db.models import QuerySet
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from creneau.audit.detection import refuse_if_suspended
from creneau.core import clock
from creneau.core.actors import ALL_AGENDA_RIGHTS, Actor, ActorKind, AgendaRight, AgendaScope, Channel
from creneau.core.errors import NotFound
from creneau.core.ids import parse_id
from creneau.directory.models import Agenda

from .errors import InvitationUnusable
from .models import AgendaAccess, Invitation, InvitationState, Membership, Role, User
from .passkeys import Passkey
from .principals import acting_user


def access_rights(access: AgendaAccess) -> frozenset[AgendaRight]:
    rights = set()
    if access.can_view:
        rights.add(AgendaRight.VIEW)
    if access.can_view and access.can_book:
        rights.add(AgendaRight.BOOK)
    if access.can_view and access.can_manage:
        rights.add(AgendaRight.MANAGE)
    if access.can_view and access.can_book and access.can_force:
        rights.add(AgendaRight.FORCE)
    return frozenset(rights)


def staff_actor(user: User, *, channel: Channel = Channel.WEB, ip: str | None = None) -> Actor:
    """The user as practice staff: organizations, roles, and the rights on each agenda (three queries).

    A practitioner holds every right on their own agenda in each organization; an organization admin on
    every agenda of that organization; anything else comes from explicit `AgendaAccess` grants."""
    rows = list(Membership.objects.filter(user=user).values_list("organization_id", "role", "practitioner_id"))
    org_ids = frozenset(org for org, _r, _p in rows)
    admin_of = frozenset(org for org, role, _p in rows if role == Role.ORG_ADMIN)
    own = {(org, p) for org, role, p in rows if role == Role.PRACTITIONER and p is not None}
    rights: dict[uuid.UUID, set[AgendaRight]] = {}
    keys: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID]] = {}
    for aid, org, p in Agenda.objects.filter(organization_id__in=list(org_ids), is_active=True).values_list(
        "pk", "organization_id", "practitioner_id"
    ):
        keys[aid] = (org, p)
        if org in admin_of or (org, p) in own:
            rights[aid] = set(ALL_AGENDA_RIGHTS)
    for access in AgendaAccess.objects.filter(user=user, agenda_id__in=list(keys)):
        rights.setdefault(access.agenda_id, set()).update(access_rights(access))
    agendas = tuple(
        AgendaScope(aid, keys[aid][0], keys[aid][1], frozenset(r)) for aid, r in sorted(rights.items()) if r
    )
    return Actor(
        kind=ActorKind.STAFF,
        channel=channel,
        user=user,
        organization_ids=org_ids,
        ip=ip,
        role=",".join(sorted({r for _o, r, _p in rows})),
        org_roles=tuple(sorted((org, str(role)) for org, role, _p in rows)),
        admin_of=admin_of,
        agendas=agendas,
    )


def memberships_of_organization(actor: Actor, organization_id: uuid.UUID) -> QuerySet[Membership]:
    """The team of an organization the actor administers."""
    if not actor.is_org_admin(organization_id):
        return Membership.objects.none()
    return Membership.objects.filter(organization_id=organization_id).select_related("user", "practitioner")


def access_membership(actor: Actor, membership_id: uuid.UUID | str) -> Membership:
    """A membership of an organization the actor administers."""
    refuse_if_suspended(actor)
    try:
        membership = Membership.objects.select_related("user", "organization", "practitioner").get(
            pk=parse_id(membership_id), organization_id__in=list(actor.admin_of)
        )
    except Membership.DoesNotExist as exc:
        raise NotFound(_("Unknown team member.")) from exc
    return membership


def team_agenda_accesses(actor: Actor, organization_id: uuid.UUID) -> dict[uuid.UUID, dict[uuid.UUID, AgendaAccess]]:
    """{user id: {agenda id: access}} for the explicit grants on the agendas of an organization the
    actor administers (one query; empty otherwise)."""
    if not actor.is_org_admin(organization_id):
        return {}
    out: dict[uuid.UUID, dict[uuid.UUID, AgendaAccess]] = {}
    for access in AgendaAccess.objects.filter(agenda__organization_id=organization_id):
        out.setdefault(access.user_id, {})[access.agenda_id] = access
    return out


def invitation_token(invitation_id: uuid.UUID) -> str:
    """The secret of an invitation's link: a keyed MAC of its id under the site's secret key, made when
    the e-mail leaves (`notifications.secret_links.invitation_secret_link`), never stored. A copy of the database
    (the invitation row, the outbox row) is not enough to forge it; it dies with the invitation's state
    (used, withdrawn, expired), checked on every use."""
    mac = salted_hmac("creneau.accounts.invitation", str(invitation_id), algorithm="sha256").digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def invitation_token_hash(token: str) -> str:
    """What is stored of an invitation link's token: its SHA-256 (the token has 256 random bits, so no
    salt or slow hash is needed to make the stored value useless)."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def pending_invitations(actor: Actor, organization_id: uuid.UUID) -> list[Invitation]:
    """Invitations of an organization the actor administers that can still be accepted, newest first."""
    if not actor.is_org_admin(organization_id):
        return []
    return list(
        Invitation.objects.filter(
            organization_id=organization_id,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=clock.now(),
        )
        .select_related("practitioner")
        .order_by("-created_at")
    )


def access_invitation(actor: Actor, invitation_id: uuid.UUID | str) -> Invitation:
    """An invitation of an organization the actor administers; any other answers as a missing id."""
    refuse_if_suspended(actor)
    try:
        return Invitation.objects.select_related("organization", "practitioner").get(
            pk=parse_id(invitation_id), organization_id__in=list(actor.admin_of)
        )
    except Invitation.DoesNotExist as exc:
        raise NotFound(_("Unknown invitation.")) from exc


def invitation_for_token(token: str, *, for_update: bool = False) -> Invitation:
    """The invitation an e-mailed link points to, if it can still be accepted. A token we never issued
    is NotFound; one already used, withdrawn or past its date is InvitationUnusable saying which, so the
    person knows whether to ask for a new invitation or to sign in."""
    qs = Invitation.objects.select_related("organization", "practitioner")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    invitation = qs.filter(token_hash=invitation_token_hash(token or "")).first() if token else None
    if invitation is None or not invitation.organization.is_active:
        raise NotFound(_("This invitation link is not valid. Check that you copied it whole."))
    state = invitation.state(clock.now())
    if state == InvitationState.ACCEPTED:
        raise InvitationUnusable(
            _("This invitation has already been used. Sign in with the account that accepted it."), code="used"
        )
    if state == InvitationState.REVOKED:
        raise InvitationUnusable(
            _("This invitation was withdrawn by the organization. Ask its administrator for a new one."),
            code="revoked",
        )
    if state == InvitationState.EXPIRED:
        raise InvitationUnusable(
            _("This invitation has expired. Ask the organization's administrator to send a new one."),
            code="expired",
        )
    return invitation


def organization_admin_emails(organization_ids: list[uuid.UUID]) -> list[str]:
    """The e-mail addresses of the active administrators of these organizations (security alerts)."""
    admins = Membership.objects.filter(
        organization_id__in=organization_ids, role=Role.ORG_ADMIN, user__is_active=True
    ).select_related("user")
    return sorted({m.user.email for m in admins})


def passkeys_of(user: User) -> list[Passkey]:
    """The account's own passkeys, newest first (the holder's security page)."""
    return list(Passkey.objects.filter(user=user).order_by("-created_at"))


def access_passkey(actor: Actor, user: User, passkey_id: object, *, for_update: bool = False) -> Passkey:
    """One passkey of `user`, acting on their own account; another account's, a removed one or a
    malformed id answer alike (NotFound)."""
    if actor.user is None or actor.user.pk != user.pk:
        raise NotFound(_("Unknown passkey."))
    try:
        pk = uuid.UUID(str(passkey_id))
    except ValueError:
        raise NotFound(_("Unknown passkey.")) from None
    rows = Passkey.objects.filter(pk=pk, user=user)
    found = (rows.select_for_update() if for_update else rows).first()
    if found is None:
        raise NotFound(_("Unknown passkey."))
    return found


def is_agenda_practitioner(actor: Actor, agenda: Agenda) -> bool:
    """Whether the actor is, in the agenda's organization, the practitioner whose agenda it is (only they may
    choose what their own calendar feed shows)."""
    user = acting_user(actor)
    if actor.kind != ActorKind.STAFF or user is None:
        return False
    return Membership.objects.filter(
        user=user,
        organization_id=agenda.organization_id,
        role=Role.PRACTITIONER,
        practitioner_id=agenda.practitioner_id,
    ).exists()
