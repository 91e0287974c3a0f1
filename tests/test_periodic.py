from __future__ import annotations

import pytest
from django.core.cache import cache

from creneau.audit.models import AuditSeal
from creneau.audit.services import audit_record
from creneau.core import periodic
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.scheduling.models import AvailabilityIndex

from .personas import World

pytestmark = pytest.mark.django_db


def test_the_worker_seals_the_audit_trail_and_refreshes_availability_once_per_interval(world: World) -> None:
    cache.clear()
    audit_record(
        actor=Actor(kind=ActorKind.API_CLIENT, channel=Channel.API, api_client_id="x"),
        action="read",
        object_type="appointment",
    )
    AvailabilityIndex.objects.all().delete()
    assert periodic.run_due() == len(periodic.jobs())
    assert not AuditSeal.objects.filter(event__seal__isnull=True).exists()
    assert AuditSeal.objects.exists()
    assert AvailabilityIndex.objects.filter(practitioner=world.doc).exists()
    assert periodic.run_due() == 0  # a second worker in the same interval does nothing


def test_a_job_that_does_not_import_fails_the_system_check() -> None:
    from django.test import override_settings

    from creneau.core.checks import check_periodic_jobs

    assert check_periodic_jobs() == []
    with override_settings(CRENEAU_PERIODIC_JOBS=[("x", 60, "creneau.audit.services.no_such_job")]):
        assert [e.id for e in check_periodic_jobs()] == ["creneau.E105"]
