"""Directory reads for the API, scoped: `orgs=None` is the public directory (anonymous callers), a
set is the organizations that granted the client this interaction (possibly none: nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db.models import QuerySet

from creneau.core.errors import NotFound
from creneau.directory.models import Organization, Practitioner, PractitionerSite, Site
from creneau.scheduling.models import Motif

from .models import ApiGrant

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
        raise NotFound("Not found.") from exc


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
