"""Directory reads. `access_*` functions check the actor's rights and answer NotFound otherwise."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from creneau.audit.detection import refuse_if_suspended
from creneau.core.actors import Actor, ActorKind, AgendaRight
from creneau.core.errors import NotFound, PermissionDenied
from creneau.core.ids import parse_id

from .models import Agenda, Organization, PractitionerSite, Site


def agendas_for(actor: Actor, right: AgendaRight = AgendaRight.VIEW) -> QuerySet[Agenda]:
    """The agendas on which the actor holds `right`: its own organizations' only, and of those only the
    ones its rights cover (a practitioner's own; others as granted; all of them for an organization admin)."""
    qs = Agenda.objects.select_related("practitioner__specialty", "organization").filter(is_active=True)
    if actor.kind == ActorKind.SYSTEM:
        return qs
    if actor.kind == ActorKind.API_CLIENT:
        return qs.filter(organization_id__in=list(actor.organization_ids))
    if actor.kind != ActorKind.STAFF:
        return qs.none()
    return qs.filter(pk__in=[a.agenda_id for a in actor.agendas_with(right)])


_RIGHT_REFUSED = {
    AgendaRight.VIEW: gettext_lazy("You may not see this agenda."),
    AgendaRight.BOOK: gettext_lazy("You may not book, move or cancel appointments in this agenda."),
    AgendaRight.MANAGE: gettext_lazy("You may not change the visit reasons, hours or absences of this agenda."),
    AgendaRight.FORCE: gettext_lazy(
        "You may not force a booking in this agenda: it needs the right to force bookings, given by an administrator."
    ),
}


def access_agenda(actor: Actor, agenda_id: uuid.UUID | str, right: AgendaRight = AgendaRight.VIEW) -> Agenda:
    """One agenda for an actor holding `right` on it. An agenda the actor cannot see at all answers
    exactly as a missing id; one it sees without the right asked is a 403 that says which right is missing."""
    refuse_if_suspended(actor)
    aid = parse_id(agenda_id)
    try:
        agenda = agendas_for(actor, AgendaRight.VIEW).get(pk=aid)
    except Agenda.DoesNotExist as exc:
        raise NotFound(_("Unknown agenda.")) from exc
    require_agenda_right(actor, agenda, right)
    return agenda


def require_agenda_right(actor: Actor, agenda: Agenda, right: AgendaRight) -> None:
    """PermissionDenied, naming the missing right, unless the actor holds `right` on this agenda."""
    if not actor.can_on_agenda(right, organization_id=agenda.organization_id, practitioner_id=agenda.practitioner_id):
        raise PermissionDenied(_RIGHT_REFUSED[right])


def agenda_id_of(*, organization_id: uuid.UUID, practitioner_id: uuid.UUID) -> uuid.UUID | None:
    """The id of the agenda of this practitioner in this organization (for links; no rights implied)."""
    return (
        Agenda.objects.filter(organization_id=organization_id, practitioner_id=practitioner_id)
        .values_list("pk", flat=True)
        .first()
    )


def agenda_sites(agenda: Agenda) -> list[Site]:
    """The sites of the agenda's organization where its practitioner works."""
    return list(
        Site.objects.filter(
            practitioner_links__practitioner_id=agenda.practitioner_id, organization_id=agenda.organization_id
        ).order_by("name")
    )


def access_agenda_site(agenda: Agenda, site_id: uuid.UUID | str) -> Site:
    """A site of the agenda (its organization, its practitioner works there)."""
    sid = parse_id(site_id)
    for site in agenda_sites(agenda):
        if site.pk == sid:
            return site
    raise NotFound(_("Unknown site."))


def access_organization_as_admin(actor: Actor, organization_id: uuid.UUID | str) -> Organization:
    """An organization the actor administers (team, rights, exports, API grants); the system (commands)
    administers every one."""
    refuse_if_suspended(actor)
    try:
        oid = parse_id(organization_id)
    except NotFound as exc:
        raise NotFound(_("Unknown organization.")) from exc
    if actor.kind != ActorKind.SYSTEM and not actor.is_org_admin(oid):
        raise NotFound(_("Unknown organization."))
    try:
        return Organization.objects.get(pk=oid, is_active=True)
    except Organization.DoesNotExist as exc:
        raise NotFound(_("Unknown organization.")) from exc


def organizations_administered(actor: Actor) -> list[Organization]:
    return list(Organization.objects.filter(pk__in=list(actor.admin_of), is_active=True).order_by("name"))


def practitioner_sites(practitioner_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Site]]:
    """Sites of each practitioner, one query."""
    out: dict[uuid.UUID, list[Site]] = {}
    links = PractitionerSite.objects.filter(practitioner_id__in=list(practitioner_ids)).select_related("site")
    for link in links:
        out.setdefault(link.practitioner_id, []).append(link.site)
    return out
