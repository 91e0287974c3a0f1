"""Bulk export reads: only for the administrators of the exporting organization. An export of another
organization answers exactly as a missing id. An export record names its requester, approver and
recipient but no patient: these reads are not audited (generation and download are, record by record)."""

from __future__ import annotations

import uuid

from django.utils.translation import gettext as _

from creneau.audit.detection import refuse_if_suspended
from creneau.core.actors import Actor, ActorKind
from creneau.core.errors import NotFound
from creneau.core.ids import parse_id
from creneau.directory.selectors import access_organization_as_admin

from .models import BulkExport


def access_export(actor: Actor, export_id: uuid.UUID | str, *, for_update: bool = False) -> BulkExport:
    """One export of an organization the actor (staff) administers."""
    refuse_if_suspended(actor)
    # Staff only: the system does not handle exports (a person answers for each).
    admin_of = sorted(actor.admin_of) if actor.kind == ActorKind.STAFF else []
    qs = BulkExport.objects.filter(organization_id__in=admin_of)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.get(pk=parse_id(export_id))
    except (BulkExport.DoesNotExist, NotFound) as exc:
        raise NotFound(_("Unknown export.")) from exc


def exports_of_organization(actor: Actor, organization_id: uuid.UUID | str) -> list[BulkExport]:
    org = access_organization_as_admin(actor, organization_id)
    return list(BulkExport.objects.filter(organization_id=org.pk).order_by("-created_at"))
