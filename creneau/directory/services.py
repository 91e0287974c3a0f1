"""Directory writes that keep agendas in step with who works where."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction

from creneau.core.actors import Actor

from .models import Agenda, Organization, PractitionerSite


def agendas_ensure(*, links: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> int:
    """Make sure an agenda exists for each (practitioner, organization) pair; returns how many were added.

    Called wherever a practitioner is linked to a site (the operator's admin, demo and bench data), so a
    practitioner's work for an organization always has its agenda."""
    wanted = set(links)
    if not wanted:
        return 0
    have = set(
        Agenda.objects.filter(practitioner_id__in={p for p, _o in wanted}).values_list(
            "practitioner_id", "organization_id"
        )
    )
    new = [Agenda(practitioner_id=p, organization_id=o) for p, o in sorted(wanted - have)]
    Agenda.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def agendas_ensure_for_sites() -> int:
    """An agenda for every practitioner-site link (after bulk loads)."""
    pairs = PractitionerSite.objects.values_list("practitioner_id", "site__organization_id").distinct()
    return agendas_ensure(links=list(pairs))


def organization_passkeys_require(*, actor: Actor, organization_id: uuid.UUID | str, required: bool) -> bool:
    """An organization admin requires (or stops requiring) its staff to sign in with a passkey: each
    member's next sign-in then asks for one, or for adding one. Audited with before and after; nothing
    written when nothing changes. Returns whether it changed."""
    from creneau.audit.models import Action
    from creneau.audit.services import Touched, audit_record

    from .selectors import access_organization_as_admin

    with transaction.atomic():
        organization = access_organization_as_admin(actor, organization_id)
        current = Organization.objects.select_for_update().get(pk=organization.pk)
        if current.require_passkeys == required:
            return False
        current.require_passkeys = required
        current.save(update_fields=["require_passkeys", "updated_at"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="organization",
            object_id=current.pk,
            via="organization_passkeys_require",
            changes={"require_passkeys": [not required, required]},
            touched=[Touched(organization_id=current.pk)],
        )
    return True
