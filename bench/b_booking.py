"""1. Concurrent bookings per second: 16 client processes through `appointment_book` (a secretary
booking by phone: every check, the audit trail, the outbox and the index refresh run), and 16 processes
doing the same INSERT with raw psycopg into the same table under the same exclusion constraint.

Uncontended: each client books its own practitioner's successive slots. Contended: all clients try the
same slots of one practitioner in the same order, so each slot has 16 takers and one winner."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import random
import time
import uuid
import zoneinfo
from typing import Any

from . import env
from .data import World

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
CLIENTS = 16
# Starts each client walks through: far more than the raw loop takes in 8 s (its contended figure was
# once capped at 4,000 slots / 8 s by a shorter list).
SLOTS_PER_CLIENT = 40_000
_barrier: Any = None


def _init(barrier: Any) -> None:
    global _barrier
    _barrier = barrier
    env.setup()
    _warm()


def _warm() -> None:
    """Do once what a long-running server process has done before it serves: load the URL configuration,
    both languages' catalogues and the message templates. Without it, each fresh client process's first
    booking pays ~0.6 s of start-up inside the measured seconds (the raw clients have nothing to load)."""
    from pathlib import Path

    from django.urls import get_resolver
    from django.utils import translation

    from creneau.notifications import rendering

    get_resolver().reverse_dict  # noqa: B018 (imports every URL module)
    engine = rendering._text_engine()
    root = Path(rendering.__file__).parent / "templates"
    for path in sorted(root.glob("notifications/messages/*/*.txt")):
        engine.get_template(str(path.relative_to(root)))
    for lang in ("fr", "en"):
        with translation.override(lang):
            rendering.page_url("notifications:messages")


def slots(day_offset: int, count: int) -> list[dt.datetime]:
    """Successive 15-minute starts from 07:00 to 21:00 (Paris), day after day, from `day_offset` days on."""
    from creneau.core import clock

    today = clock.now().astimezone(PARIS).date()
    out: list[dt.datetime] = []
    d = day_offset
    while len(out) < count:
        day = today + dt.timedelta(days=d)
        for k in range(56):
            out.append(dt.datetime(day.year, day.month, day.day, 7, 0, tzinfo=PARIS) + dt.timedelta(minutes=15 * k))
        d += 1
    return [s.astimezone(dt.UTC) for s in out[:count]]


def _service_client(job: dict[str, Any]) -> dict[str, int | float]:
    from creneau.accounts.models import User
    from creneau.accounts.selectors import staff_actor
    from creneau.booking.services import SlotRef, appointment_book
    from creneau.core.errors import Conflict

    actor = staff_actor(User.objects.by_email(job["secretary"]).get())
    _org, site, motif = job["agenda"]
    rng = random.Random(job["seed"])
    ok = conflicts = 0
    starts = slots(job["day"], SLOTS_PER_CLIENT)
    _barrier.wait()
    t0 = time.perf_counter()
    end = t0 + job["seconds"]
    for start in starts:
        if time.perf_counter() >= end:
            break
        try:
            appointment_book(
                actor=actor,
                slot=SlotRef(job["practitioner"], motif, site, start),
                patient_id=rng.choice(job["patients"]),
            )
            ok += 1
        except Conflict:
            conflicts += 1
    return {"ok": ok, "conflicts": conflicts, "seconds": time.perf_counter() - t0}


RAW_INSERT = (
    "INSERT INTO booking_appointment (id, created_at, updated_at, practitioner_id, site_id, organization_id, "
    "motif_id, patient_id, start_at, end_at, busy_until, status, source, actor_key, booked_at, cancelled_by) "
    "VALUES (%s, now(), now(), %s, %s, %s, %s, %s, %s, %s, %s, 'booked', 'phone', %s, now(), '')"
)


def _raw_client(job: dict[str, Any]) -> dict[str, int | float]:
    import psycopg

    org, site, motif = job["agenda"]
    rng = random.Random(job["seed"])
    ok = conflicts = 0
    starts = slots(job["day"], SLOTS_PER_CLIENT)
    with psycopg.connect(env.DATABASE_URL, autocommit=True) as conn:
        _barrier.wait()
        t0 = time.perf_counter()
        end = t0 + job["seconds"]
        for start in starts:
            if time.perf_counter() >= end:
                break
            stop = start + dt.timedelta(minutes=15)
            try:
                conn.execute(
                    RAW_INSERT,
                    (
                        uuid.uuid4(),
                        job["practitioner"],
                        site,
                        org,
                        motif,
                        rng.choice(job["patients"]),
                        start,
                        stop,
                        stop,
                        "raw",
                    ),
                    prepare=True,
                )
                ok += 1
            except (psycopg.errors.ExclusionViolation, psycopg.errors.DeadlockDetected):
                # Concurrent inserts checked against the same exclusion constraint can deadlock; the
                # victim lost the slot exactly as with a plain violation (the service retries instead).
                conflicts += 1
        return {"ok": ok, "conflicts": conflicts, "seconds": time.perf_counter() - t0}


def _run(pool: Any, fn: Any, jobs: list[dict[str, Any]]) -> dict[str, float]:
    results = pool.map(fn, jobs, chunksize=1)
    seconds = max(r["seconds"] for r in results)
    ok = sum(int(r["ok"]) for r in results)
    conflicts = sum(int(r["conflicts"]) for r in results)
    return {
        "ok": ok,
        "conflicts": conflicts,
        "seconds": round(seconds, 2),
        "per_second": round(ok / seconds, 1),
        "attempts_per_second": round((ok + conflicts) / seconds, 1),
    }


def double_bookings(practitioner_ids: list[uuid.UUID]) -> int:
    """Pairs of active rows of one practitioner whose busy ranges overlap (must be 0)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM booking_appointment a JOIN booking_appointment b "
            "ON a.practitioner_id = b.practitioner_id AND a.id < b.id "
            "AND tstzrange(a.start_at, a.busy_until) && tstzrange(b.start_at, b.busy_until) "
            "WHERE a.status <> 'cancelled' AND b.status <> 'cancelled' AND a.practitioner_id = ANY(%s)",
            [list(practitioner_ids)],
        )
        return int(cur.fetchone()[0])


def rows_of(practitioner_ids: list[uuid.UUID]) -> int:
    from creneau.booking.models import Appointment

    return Appointment.objects.filter(
        practitioner_id__in=practitioner_ids, start_at__gt=dt.datetime.now(dt.UTC)
    ).count()


def run(w: World, seconds: float) -> dict[str, Any]:
    from django.db import connections

    connections.close_all()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(CLIENTS)
    ids = w.booking_ids
    base = {"secretary": w.secretary_email, "patients": w.clinic_patients, "seconds": seconds}

    def jobs(practitioners: list[uuid.UUID], day: int) -> list[dict[str, Any]]:
        return [
            {**base, "practitioner": p, "agenda": w.agenda[p], "day": day, "seed": i}
            for i, p in enumerate(practitioners)
        ]

    out: dict[str, Any] = {"clients": CLIENTS, "seconds_per_scenario": seconds}
    with ctx.Pool(CLIENTS, initializer=_init, initargs=(barrier,)) as pool:
        out["service_uncontended"] = _run(pool, _service_client, jobs(ids[0:16], 1))
        out["raw_uncontended"] = _run(pool, _raw_client, jobs(ids[20:36], 1))
        out["service_contended"] = _run(pool, _service_client, jobs([ids[16]] * CLIENTS, 1))
        out["raw_contended"] = _run(pool, _raw_client, jobs([ids[36]] * CLIENTS, 1))
    used = ids[0:17] + ids[20:37]
    out["double_bookings"] = double_bookings(used)
    succeeded = sum(
        out[k]["ok"] for k in ("service_uncontended", "raw_uncontended", "service_contended", "raw_contended")
    )
    out["rows_match_successes"] = rows_of(used) == succeeded
    for kind in ("uncontended", "contended"):
        raw = out[f"raw_{kind}"]["per_second"]
        out[f"ratio_{kind}"] = round(out[f"service_{kind}"]["per_second"] / raw, 3) if raw else None
    return out
