"""Directory reads for the API, scoped: `orgs=None` is the public directory (anonymous callers), a
set is the organizations that granted the client this interaction (possibly none: nothing).

Also the permission-checked fetches of API clients and grants (organization admins, commands as the
system). Directory objects and grants carry no personal data: these reads are not audited. A suspended
caller never reaches the directory reads (the bearer check refuses it first); the grant and client
fetches refuse it themselves."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from oauth2_provider.models import get_application_model

from creneau.audit.detection import refuse_if_suspended
from creneau.core.actors import Actor, ActorKind
from creneau.core.errors import NotFound
from creneau.core.ids import parse_id
from creneau.directory.models import Organization, Practitioner, PractitionerSite, Site
from creneau.scheduling.models import Motif

from . import ids
from .models import ApiGrant, Subscription

Orgs = frozenset[uuid.UUID] | None


def organizations(orgs: Orgs) -> QuerySet[Organization]:
    qs = Organization.objects.filter(is_active=True)
    return qs if orgs is None else qs.filter(pk__in=list(orgs))


def sites(orgs: Orgs) -> QuerySet[Site]:
    qs = Site.objects.filter(organization__is_active=True)
    return qs if orgs is None else qs.filter(organization_id__in=list(orgs))


def roles(orgs: Orgs) -> QuerySet[PractitionerSite]:
    """A practitioner at a site: the unit of PractitionerRole and Schedule."""
    return PractitionerSite.objects.select_related("practitioner__specialty", "site").filter(
        practitioner__is_active=True, site__in=sites(orgs)
    )


def practitioners(orgs: Orgs) -> QuerySet[Practitioner]:
    return Practitioner.objects.select_related("specialty").filter(
        is_active=True, pk__in=roles(orgs).values("practitioner_id")
    )


def motifs(orgs: Orgs) -> QuerySet[Motif]:
    """Visit reasons of the agendas of these organizations (each offered at its own organization's sites)."""
    qs = Motif.objects.select_related("practitioner__specialty", "agenda").filter(
        is_active=True, practitioner__is_active=True, agenda__is_active=True, agenda__organization__is_active=True
    )
    return qs if orgs is None else qs.filter(agenda__organization_id__in=list(orgs))


def access_role(orgs: Orgs, practitioner_id: uuid.UUID, site_id: uuid.UUID) -> PractitionerSite:
    try:
        return roles(orgs).get(practitioner_id=practitioner_id, site_id=site_id)
    except PractitionerSite.DoesNotExist as exc:
        raise NotFound(_("Not found.")) from exc


def _one[T: (Organization, Site, Practitioner, Motif)](qs: QuerySet[T], object_id: uuid.UUID | str, missing: str) -> T:
    """One row of a scoped queryset; a malformed id, a missing one and one outside the scope all answer
    the same `missing` message."""
    try:
        return qs.get(pk=parse_id(object_id))
    except (qs.model.DoesNotExist, NotFound) as exc:
        raise NotFound(missing) from exc


def access_organization(orgs: Orgs, organization_id: uuid.UUID | str) -> Organization:
    return _one(organizations(orgs), organization_id, _("Unknown organization."))


def access_site(orgs: Orgs, site_id: uuid.UUID | str) -> Site:
    return _one(sites(orgs), site_id, _("Unknown location."))


def access_practitioner(orgs: Orgs, practitioner_id: uuid.UUID | str) -> Practitioner:
    return _one(practitioners(orgs), practitioner_id, _("Unknown practitioner."))


def access_motif(orgs: Orgs, motif_id: uuid.UUID | str, *, missing: str | None = None) -> Motif:
    """An active visit reason of a visible agenda (HealthcareService, the motif of a Slot)."""
    return _one(motifs(orgs), motif_id, missing or _("Unknown visit reason."))


def role_sites(practitioner_ids: Iterable[uuid.UUID], orgs: Orgs) -> dict[uuid.UUID, list[Site]]:
    """The visible sites of each practitioner, one query."""
    out: dict[uuid.UUID, list[Site]] = {}
    for link in roles(orgs).filter(practitioner_id__in=list(practitioner_ids)).order_by("site__name"):
        out.setdefault(link.practitioner_id, []).append(link.site)
    return out


def grants_of_organization(organization_id: uuid.UUID) -> QuerySet[ApiGrant]:
    return (
        ApiGrant.objects.select_related("application")
        .filter(organization_id=organization_id)
        .order_by("revoked_at", "-created_at")
    )


def access_slot(orgs: Orgs, slot_id: str) -> tuple[Motif, uuid.UUID, dt.datetime]:
    """Resolve a Slot id within the caller's scope: the motif must be active, its practitioner must
    work at the site and the site must be visible. Anything else (a malformed id included) answers
    the same "unknown slot"; whether the time is free is the caller's question."""
    missing = _("Unknown slot.")
    try:
        motif_id, site_id, start = ids.parse_slot_id(slot_id)
        motif = access_motif(orgs, motif_id, missing=missing)
        access_role(orgs, motif.practitioner_id, site_id)
    except NotFound as exc:
        raise NotFound(missing) from exc
    return motif, site_id, start


def slot_to_book(slot_id: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, dt.datetime]:
    """(practitioner, motif, site, start) of a Slot id to book; whether the caller may book it there is
    the booking service's check (scope, rights, free time), which answers the same "does not exist"."""
    missing = _("This practitioner, visit reason or place does not exist.")
    try:
        motif_id, site_id, start = ids.parse_slot_id(slot_id)
    except NotFound as exc:
        raise NotFound(missing) from exc
    practitioner_id = Motif.objects.filter(pk=motif_id).values_list("practitioner_id", flat=True).first()
    if practitioner_id is None:
        raise NotFound(missing)
    return practitioner_id, motif_id, site_id, start


# --- API clients and grants -------------------------------------------------------------------------


def _administered(actor: Actor) -> list[uuid.UUID] | None:
    """The organizations whose grants the actor manages (None: all of them, for the system)."""
    if actor.kind == ActorKind.SYSTEM:
        return None
    if actor.kind != ActorKind.STAFF:
        return []
    return sorted(actor.admin_of)


def access_api_grant(
    actor: Actor,
    grant_id: uuid.UUID | str,
    *,
    organization_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> ApiGrant:
    """A grant of an organization the actor administers (of `organization_id` when given). A grant of
    another organization answers exactly as a missing id."""
    refuse_if_suspended(actor)
    qs = ApiGrant.objects.select_related("application")
    orgs = _administered(actor)
    if orgs is not None:
        qs = qs.filter(organization_id__in=orgs)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.get(pk=parse_id(grant_id))
    except (ApiGrant.DoesNotExist, NotFound) as exc:
        raise NotFound(_("Unknown access.")) from exc


def active_grants_of_client(actor: Actor, *, client_id: str, organization_id: uuid.UUID | str) -> list[ApiGrant]:
    """The client's active grants in one organization the actor administers (none otherwise)."""
    refuse_if_suspended(actor)
    org_id = parse_id(organization_id)
    orgs = _administered(actor)
    if orgs is not None and org_id not in orgs:
        return []
    return list(ApiGrant.objects.active().filter(application__client_id=client_id.strip(), organization_id=org_id))


def access_api_client(actor: Actor, client_id: str) -> Any:
    """An API client by its public client id, for whoever may grant it access (an organization admin,
    the system) or the client itself. Anyone else gets the answer of an unknown client id."""
    refuse_if_suspended(actor)
    cid = (client_id or "").strip()
    may = (
        actor.kind == ActorKind.SYSTEM
        or (actor.kind == ActorKind.STAFF and bool(actor.admin_of))
        or (actor.kind == ActorKind.API_CLIENT and actor.api_client_id == cid)
    )
    app = get_application_model().objects.filter(client_id=cid).first() if may and cid else None
    if app is None:
        raise NotFound(_("No API client has this client id."))
    return app


# --- subscriptions (an API client's own) -------------------------------------------------------------


def subscriptions_of_client(actor: Actor) -> QuerySet[Subscription]:
    """The client's subscriptions still in place (a deleted one is gone), newest first."""
    if actor.kind != ActorKind.API_CLIENT or not actor.api_client_id:
        return Subscription.objects.none()
    return (
        Subscription.objects.select_related("application")
        .filter(application__client_id=actor.api_client_id, deleted_at__isnull=True)
        .order_by("-created_at", "pk")
    )


def access_subscription(actor: Actor, subscription_id: uuid.UUID | str, *, for_update: bool = False) -> Subscription:
    """One of the client's own subscriptions; another client's answers exactly as a missing id."""
    qs = subscriptions_of_client(actor)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.get(pk=parse_id(subscription_id))
    except (Subscription.DoesNotExist, NotFound) as exc:
        raise NotFound(_("Unknown subscription.")) from exc
