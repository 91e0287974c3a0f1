"""Many clients racing for the same time: the database lets exactly one through.

Runs on SQLite in the first pass of `make test` and on PostgreSQL in the second; both passes run
every test here, so each backend's own mechanism (triggers under BEGIN IMMEDIATE, exclusion
constraint) is exercised for real, with real threads and connections."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection

from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.core.errors import Conflict

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 24


def race(jobs: list) -> Counter[str]:
    barrier = threading.Barrier(len(jobs))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(job: Callable[[], object]) -> None:
        try:
            barrier.wait()
            job()
            result = "booked"
        except Conflict:
            result = "conflict"
        except Exception as exc:
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def test_many_patients_racing_for_one_slot_exactly_one_wins(world: World) -> None:
    start = f.paris(2026, 3, 2, 10, 0)
    people = [f.patient_account(given_name=f"P{i}") for i in range(THREADS)]
    jobs = [
        (
            lambda p=p: services.appointment_book(
                actor=p[2],
                slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, start),
                patient_id=p[1].pk,
            )
        )
        for p in people
    ]
    outcomes = race(jobs)
    assert outcomes == Counter({"booked": 1, "conflict": THREADS - 1}), outcomes
    assert Appointment.objects.filter(practitioner=world.doc, status=Status.BOOKED).count() == 1


def test_overlapping_slots_of_different_lengths_never_both_book(world: World) -> None:
    """Half the clients want 10:00–11:00, half 10:30–11:00: the database must keep the agenda clean."""
    long_motif = f.motif(world.doc, minutes=60, name="Bilan")
    people = [f.patient_account(given_name=f"P{i}") for i in range(THREADS)]
    jobs = []
    for i, (_u, patient, actor) in enumerate(people):
        if i % 2:
            ref = SlotRef(world.doc.pk, long_motif.pk, world.site.pk, f.paris(2026, 3, 2, 10, 0))
        else:
            ref = SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 2, 10, 30))
        jobs.append(lambda r=ref, a=actor, p=patient: services.appointment_book(actor=a, slot=r, patient_id=p.pk))
    outcomes = race(jobs)
    assert outcomes["booked"] == 1 and outcomes["conflict"] == THREADS - 1, outcomes
    booked = list(Appointment.objects.filter(practitioner=world.doc, status=Status.BOOKED))
    assert len(booked) == 1


def test_concurrent_holds_then_confirmations_yield_one_appointment(world: World) -> None:
    start = f.paris(2026, 3, 2, 11, 0)
    people = [f.patient_account(given_name=f"P{i}") for i in range(THREADS)]

    def hold_and_confirm(p: tuple) -> None:
        hold = services.slot_hold(actor=p[2], slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, start))
        services.hold_confirm(actor=p[2], hold_id=hold.pk, patient_id=p[1].pk)

    outcomes = race([lambda p=p: hold_and_confirm(p) for p in people])
    assert outcomes == Counter({"booked": 1, "conflict": THREADS - 1}), outcomes
    assert Appointment.objects.filter(practitioner=world.doc).exclude(status=Status.CANCELLED).count() == 1


def test_the_same_request_retried_concurrently_books_once(world: World) -> None:
    start = f.paris(2026, 3, 2, 9, 30)
    actor, patient = world.patient_actor, world.patient
    ref = SlotRef(world.doc.pk, world.motif.pk, world.site.pk, start)
    outcomes = race(
        [
            lambda: services.appointment_book(actor=actor, slot=ref, patient_id=patient.pk, idempotency_key="retry-1")
            for _ in range(8)
        ]
    )
    assert outcomes == Counter({"booked": 8}), outcomes
    assert Appointment.objects.filter(practitioner=world.doc).count() == 1


@pytest.mark.postgres
def test_postgres_has_the_exclusion_constraint() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT contype FROM pg_constraint WHERE conname = %s", ["appointment_no_overlap"])
        assert cur.fetchone() == ("x",)


@pytest.mark.sqlite
def test_sqlite_has_the_overlap_triggers_and_immediate_transactions() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'appointment%' ORDER BY name")
        assert [r[0] for r in cur.fetchall()] == ["appointment_no_overlap_insert", "appointment_no_overlap_update"]
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
