"""Directory reads. `access_*` functions check the actor's rights and answer NotFound otherwise."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db.models import QuerySet

from creneau.core.actors import Actor, ActorKind
from creneau.core.errors import NotFound
from creneau.core.ids import parse_id

from .models import Practitioner, PractitionerSite, Site


def practitioners_managed_by(actor: Actor) -> QuerySet[Practitioner]:
    """Practitioners working at a site of an organization the actor belongs to."""
    if actor.kind == ActorKind.SYSTEM:
        return Practitioner.objects.all()
    return Practitioner.objects.filter(site_links__site__organization_id__in=actor.organization_ids).distinct()


def access_practitioner_for_staff(actor: Actor, practitioner_id: uuid.UUID | str) -> Practitioner:
    pid = parse_id(practitioner_id)
    try:
        return practitioners_managed_by(actor).get(pk=pid)
    except Practitioner.DoesNotExist as exc:
        raise NotFound("Unknown practitioner.") from exc


def access_site_for_staff(actor: Actor, site_id: uuid.UUID | str) -> Site:
    sid = parse_id(site_id)
    qs = Site.objects.select_related("organization")
    if actor.kind != ActorKind.SYSTEM:
        qs = qs.filter(organization_id__in=actor.organization_ids)
    try:
        return qs.get(pk=sid)
    except Site.DoesNotExist as exc:
        raise NotFound("Unknown site.") from exc


def practitioner_sites(practitioner_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Site]]:
    """Sites of each practitioner, one query."""
    out: dict[uuid.UUID, list[Site]] = {}
    links = PractitionerSite.objects.filter(practitioner_id__in=list(practitioner_ids)).select_related("site")
    for link in links:
        out.setdefault(link.practitioner_id, []).append(link.site)
    return out
