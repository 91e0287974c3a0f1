from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import transaction
from pytest_django.fixtures import Settings

from creneau.booking.models import Appointment
from creneau.directory.models import Practitioner, Site
from creneau.directory.validators import is_valid_rpps
from creneau.scheduling.models import AvailabilityIndex

pytestmark = pytest.mark.django_db


class _Undo(Exception):
    pass


def _seed_and_snapshot() -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """Seed inside a savepoint, read what was made, then roll it back."""
    snapshot: tuple[list[tuple[str, str, str]], list[tuple[str, str]]] = ([], [])
    try:
        with transaction.atomic():
            call_command("seed_demo", practitioners=40, patients=50, weeks=2, seed=7, verbosity=0)
            snapshot = (
                sorted(Practitioner.objects.values_list("rpps", "family_name", "specialty_id")),
                sorted((str(a), s.isoformat()) for a, s in Appointment.objects.values_list("id", "start_at")),
            )
            raise _Undo
    except _Undo:
        pass
    return snapshot


def test_seed_is_deterministic_for_a_seed(monday_morning: None) -> None:
    first = _seed_and_snapshot()
    second = _seed_and_snapshot()
    assert first == second
    assert len(first[0]) == 40 and len(first[1]) > 100


def test_seed_makes_realistic_searchable_data(monday_morning: None) -> None:
    call_command("seed_demo", practitioners=40, patients=50, weeks=2, seed=7, verbosity=0)
    rows = list(Practitioner.objects.values_list("rpps", "specialty_id"))
    assert all(is_valid_rpps(r) for r, _s in rows)
    assert len({s for _r, s in rows}) >= 5
    assert Site.objects.values("city").distinct().count() == 10
    assert AvailabilityIndex.objects.filter(next_start__isnull=False).count() >= 30


def test_if_empty_does_not_load_twice(monday_morning: None) -> None:
    call_command("seed_demo", practitioners=20, patients=10, weeks=1, verbosity=0)
    call_command("seed_demo", practitioners=20, patients=10, weeks=1, if_empty=True, verbosity=0)
    assert Practitioner.objects.count() == 20


def test_the_demo_patient_has_a_small_history_and_can_still_book(monday_morning: None, settings: Settings) -> None:
    from creneau.accounts.models import User
    from creneau.booking.selectors import account_appointments
    from creneau.core.actors import Actor

    call_command("seed_demo", practitioners=40, patients=50, weeks=2, seed=7, verbosity=0)
    actor = Actor.for_patient(User.objects.get_by_natural_key("patient@creneau.test"))
    upcoming = account_appointments(actor, upcoming=True)
    past = account_appointments(actor, upcoming=False)
    assert len(upcoming) == 2 and len(past) == 2
    assert len(upcoming) < settings.CRENEAU_MAX_FUTURE_APPOINTMENTS
