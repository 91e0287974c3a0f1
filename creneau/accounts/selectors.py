"""Account reads: who a signed-in staff member is for each organization and agenda, memberships and
invitations as an organization admin sees them."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from creneau.audit.detection import refuse_if_suspended
from creneau.core.actors import ALL_AGENDA_RIGHTS, Actor, ActorKind, AgendaRight, AgendaScope, Channel
from creneau.core.errors import NotFound
from creneau.core.ids import parse_id
from creneau.directory.models import Agenda

from .models import AgendaAccess, Membership, Role, User


def access_rights(access: AgendaAccess) -> frozenset[AgendaRight]:
    rights = set()
    if access.can_view:
        rights.add(AgendaRight.VIEW)
    if access.can_view and access.can_book:
        rights.add(AgendaRight.BOOK)
    if access.can_view and access.can_manage:
        rights.add(AgendaRight.MANAGE)
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
