"""Periodic jobs are claimed through a database row: of several workers asking at once, without a shared
cache between them, exactly one runs each job per interval, and the next interval goes to one again."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection

from creneau.core import clock, periodic
from creneau.core.models import PeriodicJobClaim


def claim_at_once(name: str, every: int, claimers: int) -> list[bool]:
    """`claimers` threads, each on its own database connection, claim `name` at the same instant."""
    barrier = threading.Barrier(claimers)
    results: list[bool] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            barrier.wait()
            won = periodic.claim_row(name, every)
            with lock:
                results.append(won)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(claimers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_a_new_job_at_once_run_it_once() -> None:
    name = f"probe-{uuid.uuid4().hex}"
    assert sorted(claim_at_once(name, 3600, 2)) == [False, True]
    row = PeriodicJobClaim.objects.get(name=name)
    assert row.due_at - row.claimed_at == dt.timedelta(hours=1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_when_the_interval_is_over_exactly_one_of_eight_workers_takes_the_next_run() -> None:
    name = f"probe-{uuid.uuid4().hex}"
    assert periodic.claim_row(name, 60)
    assert claim_at_once(name, 60, 8) == [False] * 8  # still within the interval
    with clock.frozen_at(clock.now() + dt.timedelta(seconds=61)):
        assert sorted(claim_at_once(name, 60, 8)) == [False] * 7 + [True]


RUNS: list[str] = []


def probe_job() -> None:
    RUNS.append("ran")


@pytest.mark.django_db
def test_a_second_process_without_the_first_ones_cache_does_not_run_the_job_again(settings: object) -> None:
    RUNS.clear()
    name = f"probe-{uuid.uuid4().hex}"
    settings.CRENEAU_PERIODIC_JOBS = [(name, 3600, f"{__name__}.probe_job")]  # type: ignore[attr-defined]
    assert periodic.run_due() == 1
    periodic.cache.delete(f"periodic:{name}")  # what another process, with its own local cache, would see
    assert periodic.run_due() == 0
    assert RUNS == ["ran"]
    assert PeriodicJobClaim.objects.get(name=name).claimed_by == periodic.worker_name()
