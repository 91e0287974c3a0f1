"""Directory writes that keep agendas in step with who works where."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from .models import Agenda, PractitionerSite


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
