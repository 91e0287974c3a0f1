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
KINDS = ("uncontended", "contended")


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
    "motif_id, patient_id, start_at, end_at, busy_until, status, source, actor_key, booked_at, cancelled_by, "
    "is_forced, forced_reason, no_show_excused) "
    "VALUES (%s, now(), now(), %s, %s, %s, %s, %s, %s, %s, %s, 'booked', 'phone', %s, now(), '', false, '', false)"
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


# The raw-equivalent booking: every row a phone booking writes (the appointment; the audited patient read
# with its access row and detection window; the three messages; the creation event with its access row; a
# delivery task per message; the start removed from the practitioner's availability index), written by one
# hand-written statement in one round trip and one commit. What the service adds on top of it is framework
# and checking work, which is what the "raw-equivalent" ratio shows.
RAW_EQUIVALENT = """
WITH appt AS (
    INSERT INTO booking_appointment (id, created_at, updated_at, practitioner_id, site_id, organization_id,
        motif_id, patient_id, start_at, end_at, busy_until, status, source, actor_key, booked_at, cancelled_by,
        is_forced, forced_reason, no_show_excused, idempotency_key, booked_by_id)
    VALUES (%(id)s, now(), now(), %(pr)s, %(site)s, %(org)s, %(motif)s, %(patient)s, %(start)s, %(end)s, %(end)s,
        'booked', 'phone', %(actor_key)s, now(), '', false, '', false, NULL, %(user)s)
    RETURNING id
), ev_read AS (
    INSERT INTO audit_auditevent (at, principal, actor_kind, actor_role, channel, api_client_id, ip, action,
        object_type, outcome, via, record_count, object_id, changes, writer, mac)
    VALUES (now(), %(principal)s, 'staff', 'secretary', 'web', '', NULL, 'read', 'patient', 'ok', 'access_patient',
        1, '', '{}'::jsonb, 'vm', %(mac1)s)
    RETURNING id
), acc_read AS (
    INSERT INTO audit_auditaccess (event_id, at, principal, patient_id, appointment_id, organization_id)
    SELECT ev_read.id, now(), %(principal)s, %(patient)s, NULL, %(org)s FROM ev_read
), win AS (
    INSERT INTO audit_detectionwindowentry (principal, patient_id, last_at) VALUES (%(principal)s, %(patient)s, now())
    ON CONFLICT (principal, patient_id) DO UPDATE SET last_at = GREATEST(audit_detectionwindowentry.last_at,
        EXCLUDED.last_at)
), ev_create AS (
    INSERT INTO audit_auditevent (at, principal, actor_kind, actor_role, channel, api_client_id, ip, action,
        object_type, outcome, via, record_count, object_id, changes, writer, mac)
    VALUES (now(), %(principal)s, 'staff', 'secretary', 'web', '', NULL, 'create', 'appointment', 'ok', 'booking',
        1, '', '{}'::jsonb, 'vm', %(mac2)s)
    RETURNING id
), acc_create AS (
    INSERT INTO audit_auditaccess (event_id, at, principal, patient_id, appointment_id, organization_id)
    SELECT ev_create.id, now(), %(principal)s, %(patient)s, appt.id, %(org)s FROM ev_create, appt
), msgs AS (
    INSERT INTO notifications_outboundmessage (id, created_at, updated_at, kind, channel, user_id, to_address,
        language, subject, body_text, body_html, ics, code, appointment_id, dedup_key, status, send_after,
        attempts, claim_token, lease_expires_at, sent_at, provider_id, last_error, headers)
    SELECT gen_random_uuid(), now(), now(), m.kind, m.channel, NULL, m.to_address, 'fr', m.subject, m.body_text,
        m.body_html, m.ics, '', appt.id, m.kind || ':' || appt.id || ':' || m.n, 'pending', m.send_after, 0,
        NULL, NULL, NULL, '', '', '{}'::jsonb
    FROM appt, unnest(%(kinds)s::text[], %(channels)s::text[], %(tos)s::text[], %(subjects)s::text[],
        %(texts)s::text[], %(htmls)s::text[], %(icss)s::text[], %(afters)s::timestamptz[])
        WITH ORDINALITY AS m(kind, channel, to_address, subject, body_text, body_html, ics, send_after, n)
    RETURNING id, send_after
), tasks AS (
    INSERT INTO django_tasks_database_dbtaskresult (id, status, enqueued_at, started_at, finished_at, args_kwargs,
        priority, task_path, worker_ids, queue_name, backend_name, run_after, return_value, exception_class_path,
        traceback)
    SELECT gen_random_uuid(), 'READY', now(), NULL, NULL,
        jsonb_build_object('args', '[]'::jsonb,
            'kwargs', jsonb_build_object('message_ids', jsonb_build_array(msgs.id))),
        0, 'creneau.notifications.tasks.deliver_messages', '[]'::jsonb, 'default', 'default', msgs.send_after, NULL,
        '', ''
    FROM msgs
), idx AS (
    UPDATE scheduling_availabilityindex SET starts = starts - %(start_text)s, computed_at = now()
    WHERE practitioner_id = %(pr)s AND motif_id = %(motif)s
)
SELECT
    (SELECT id FROM appt),
    (SELECT count(*) FROM audit_detectionwindowentry w
     WHERE w.principal = %(principal)s AND w.last_at >= now() - interval '1 hour')
"""


def message_sample(practitioner_ids: list[uuid.UUID]) -> dict[str, list[Any]]:
    """The three messages of one booking the service made (confirmation, two reminders), as stored (the
    address sealed): the raw-equivalent transaction stores the same texts."""
    from django.db import connection

    cols = ("kind", "channel", "to_address", "subject", "body_text", "body_html", "ics")
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join('m.' + c for c in cols)} FROM notifications_outboundmessage m "
            "WHERE m.appointment_id = (SELECT a.id FROM booking_appointment a WHERE a.practitioner_id = ANY(%s) "
            "AND a.source = 'phone' AND a.actor_key <> 'raw' LIMIT 1) ORDER BY m.send_after",
            [list(practitioner_ids)],
        )
        rows = cur.fetchall()
    assert rows, "no message to imitate: the service run booked nothing"
    return {c: [r[i] for r in rows] for i, c in enumerate(cols)}


def _raw_equivalent_client(job: dict[str, Any]) -> dict[str, int | float]:
    import hashlib
    import hmac

    import psycopg

    org, site, motif = job["agenda"]
    rng = random.Random(job["seed"])
    sample = job["messages"]
    ok = conflicts = 0
    starts = slots(job["day"], SLOTS_PER_CLIENT)
    key = b"bench-raw-equivalent"
    principal = f"user:{job['user']}"
    with psycopg.connect(env.DATABASE_URL, autocommit=True) as conn:
        _barrier.wait()
        t0 = time.perf_counter()
        end = t0 + job["seconds"]
        for start in starts:
            if time.perf_counter() >= end:
                break
            appt = uuid.uuid4()
            patient = rng.choice(job["patients"])
            # Each audit row carries its MAC, computed by the application as the service does.
            macs = [hmac.new(key, f"{principal}|{appt}|{n}".encode(), hashlib.sha256).hexdigest() for n in (1, 2)]
            lead = start - dt.timedelta(days=1)
            try:
                conn.execute(
                    RAW_EQUIVALENT,
                    {
                        "id": appt,
                        "pr": job["practitioner"],
                        "site": site,
                        "org": org,
                        "motif": motif,
                        "patient": patient,
                        "start": start,
                        "end": start + dt.timedelta(minutes=15),
                        "actor_key": principal,
                        "user": job["user"],
                        "principal": principal,
                        "mac1": "dev:" + macs[0],
                        "mac2": "dev:" + macs[1],
                        "kinds": sample["kind"],
                        "channels": sample["channel"],
                        "tos": sample["to_address"],
                        "subjects": sample["subject"],
                        "texts": sample["body_text"],
                        "htmls": sample["body_html"],
                        "icss": sample["ics"],
                        "afters": [dt.datetime.now(dt.UTC)] + [lead] * (len(sample["kind"]) - 1),
                        "start_text": start.isoformat(),
                    },
                    prepare=True,
                )
                ok += 1
            except (psycopg.errors.ExclusionViolation, psycopg.errors.DeadlockDetected):
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
    from creneau.accounts.models import User

    user = User.objects.by_email(w.secretary_email).values_list("pk", flat=True).get()
    base = {"secretary": w.secretary_email, "user": user, "patients": w.clinic_patients, "seconds": seconds}

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
        base["messages"] = message_sample(ids[0:16])
        out["raw_equivalent_uncontended"] = _run(pool, _raw_equivalent_client, jobs(ids[40:56], 1))
        out["raw_equivalent_contended"] = _run(pool, _raw_equivalent_client, jobs([ids[17]] * CLIENTS, 1))
    used = ids[0:18] + ids[20:37] + ids[40:56]
    out["double_bookings"] = double_bookings(used)
    succeeded = sum(out[f"{who}_{kind}"]["ok"] for who in ("service", "raw", "raw_equivalent") for kind in KINDS)
    out["rows_match_successes"] = rows_of(used) == succeeded
    for kind in KINDS:
        raw = out[f"raw_{kind}"]["per_second"]
        out[f"ratio_{kind}"] = round(out[f"service_{kind}"]["per_second"] / raw, 3) if raw else None
        equiv = out[f"raw_equivalent_{kind}"]["per_second"]
        out[f"ratio_equivalent_{kind}"] = round(out[f"service_{kind}"]["per_second"] / equiv, 3) if equiv else None
    return out
