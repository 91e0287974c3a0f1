from __future__ import annotations

import pytest
from django.core.cache import cache

from creneau.audit.models import AuditSeal
from creneau.audit.services import audit_record
from creneau.core import periodic
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.scheduling.models import AvailabilityIndex

pytestmark = pytest.mark.django_db


def test_the_worker_seals_the_audit_trail_and_refreshes_availability_once_per_interval(world: dict) -> None:
    cache.clear()
    audit_record(
        actor=Actor(kind=ActorKind.API_CLIENT, channel=Channel.API, api_client_id="x"),
        action="read",
        object_type="appointment",
    )
    AvailabilityIndex.objects.all().delete()
    assert periodic.run_due() == len(periodic.JOBS)
    assert not AuditSeal.objects.filter(event__seal__isnull=True).exists()
    assert AuditSeal.objects.exists()
    assert AvailabilityIndex.objects.filter(practitioner=world["doc"]).exists()
    assert periodic.run_due() == 0  # a second worker in the same interval does nothing
