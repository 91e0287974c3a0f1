"""Writing the audit trail, sealing it into a hash chain, signing checkpoints."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from creneau.core import clock
from creneau.core.actors import Actor

from .models import AuditAccess, AuditCheckpoint, AuditEvent, AuditSeal, Outcome

GENESIS = "0" * 64
# Arbitrary constant naming the sealer's PostgreSQL advisory lock.
_SEAL_LOCK = 0x6372656E


@dataclasses.dataclass(frozen=True, slots=True)
class Touched:
    """One record an event touched (identifiers only)."""

    patient_id: uuid.UUID | None = None
    appointment_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    touched: Sequence[Touched] = (),
    outcome: str = Outcome.OK,
    via: str = "",
    object_id: object = "",
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event and its touched records. Inside the caller's transaction when there is one,
    so an audited write and its audit row commit or roll back together. A read also updates the
    principal's detection window in the same transaction, then the detection rules run."""
    if not getattr(settings, "CRENEAU_AUDIT_ENABLED", True):
        return AuditEvent(action=action, object_type=object_type)
    from .detection import after_record, counts_toward_window, note_reads, window_since

    now = clock.now()
    unique = list(dict.fromkeys(touched))
    event = AuditEvent(
        at=now,
        principal=actor.key,
        actor_kind=str(actor.kind),
        actor_role=actor.role,
        channel=str(actor.channel),
        api_client_id=actor.api_client_id or "",
        ip=actor.ip,
        action=action,
        object_type=object_type,
        outcome=outcome,
        via=via,
        record_count=len(unique),
        object_id=str(object_id or ""),
        changes=_jsonable(changes or {}),
    )
    window = counts_toward_window(actor, event)
    # Sorted, so that concurrent reads by one principal lock its window rows in the same order.
    read_patients = sorted({t.patient_id for t in unique if t.patient_id is not None}) if window else []
    distinct: int | None = None
    if connection.vendor == "postgresql":
        distinct = _write_pg(event, unique, read_patients if window else None, window_since(now))
    else:
        # Inside the caller's transaction no savepoint is needed: a failure here fails the caller too.
        with transaction.atomic(savepoint=False):
            event.save(force_insert=True)
            if unique:
                AuditAccess.objects.bulk_create([_access(event, t) for t in unique], batch_size=500)
            if window:
                distinct = note_reads(actor.key, read_patients, now)
    after_record(actor=actor, event=event, distinct=distinct)
    return event


def _jsonable(value: Any) -> Any:
    """Dates, times, UUIDs and lazy strings as text, so a change record is plain JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{"field": [before, after]} for the fields whose value differs: what an update audit row records."""
    return {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}


def _access(event: AuditEvent, t: Touched) -> AuditAccess:
    return AuditAccess(
        event=event,
        at=event.at,
        principal=event.principal,
        patient_id=t.patient_id,
        appointment_id=t.appointment_id,
        organization_id=t.organization_id,
    )


_PG_EVENT = """
WITH ev AS (
    INSERT INTO audit_auditevent (at, principal, actor_kind, actor_role, channel, api_client_id, ip, action,
                                  object_type, outcome, via, record_count, object_id, changes)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb) RETURNING id
)"""
_PG_ACCESSES = """, acc AS (
    INSERT INTO audit_auditaccess (event_id, at, principal, patient_id, appointment_id, organization_id)
    SELECT ev.id, %s, %s, t.p, t.a, t.o
    FROM ev, unnest(%s::uuid[], %s::uuid[], %s::uuid[]) WITH ORDINALITY AS t(p, a, o, n) ORDER BY t.n
)"""
# The window count reads the snapshot from before this statement: rows of the patients read now are
# left out of it and counted once each instead.
_PG_WINDOW = """, win AS (
    INSERT INTO audit_detectionwindowentry (principal, patient_id, last_at)
    SELECT %s, p, %s FROM unnest(%s::uuid[]) AS p
    ON CONFLICT (principal, patient_id)
    DO UPDATE SET last_at = GREATEST(audit_detectionwindowentry.last_at, EXCLUDED.last_at)
)
SELECT (SELECT id FROM ev), cardinality(%s::uuid[]) + (
    SELECT count(*) FROM audit_detectionwindowentry w
    WHERE w.principal = %s AND w.last_at >= %s AND NOT (w.patient_id = ANY(%s::uuid[]))
)"""


def _write_pg(
    event: AuditEvent, unique: list[Touched], window: list[uuid.UUID] | None, since: dt.datetime
) -> int | None:
    """The event, its access rows and the window update in one statement (one round trip, atomic on
    its own or part of the caller's transaction); returns the window's distinct patients for a read."""
    e = event
    sql = _PG_EVENT
    params: list[Any] = [
        e.at, e.principal, e.actor_kind, e.actor_role, e.channel, e.api_client_id, e.ip or None, e.action,
        e.object_type, e.outcome, e.via, e.record_count, e.object_id, json.dumps(e.changes),
    ]  # fmt: skip
    if unique:
        sql += _PG_ACCESSES
        params += [
            e.at,
            e.principal,
            [t.patient_id for t in unique],
            [t.appointment_id for t in unique],
            [t.organization_id for t in unique],
        ]
    if window is not None:
        sql += _PG_WINDOW
        params += [e.principal, e.at, window, window, e.principal, since, window]
    else:
        sql += "\nSELECT id, NULL FROM ev"
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    event.pk = row[0]
    event._state.adding = False
    event._state.db = connection.alias
    return None if row[1] is None else int(row[1])


def record_not_found(actor: Actor, *, object_type: str, via: str) -> None:
    """A lookup that found nothing the actor may see: what enumeration detection counts."""
    audit_record(actor=actor, action="read", object_type=object_type, outcome=Outcome.NOT_FOUND, via=via)


def canonical(event: AuditEvent, accesses: Iterable[AuditAccess]) -> bytes:
    """The bytes a seal hashes: every column of the event and of its access rows."""
    rows = sorted(
        (
            str(a.patient_id or ""),
            str(a.appointment_id or ""),
            str(a.organization_id or ""),
            a.principal,
            a.at.isoformat(),
        )
        for a in accesses
    )
    body = [
        event.pk,
        event.at.isoformat(),
        event.principal,
        event.actor_kind,
        event.actor_role,
        event.channel,
        event.api_client_id,
        event.ip or "",
        event.action,
        event.object_type,
        event.outcome,
        event.via,
        event.record_count,
        rows,
    ]
    # Written since the object id and changes exist; left out when empty so older seals still verify.
    if event.object_id or event.changes:
        body += [event.object_id, json.dumps(event.changes, sort_keys=True, separators=(",", ":"))]
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()


def chain_hash(prev_hash: str, event: AuditEvent, accesses: Iterable[AuditAccess]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(event, accesses)).hexdigest()


def accesses_by_event(event_ids: Sequence[int]) -> dict[int, list[AuditAccess]]:
    out: dict[int, list[AuditAccess]] = defaultdict(list)
    for a in AuditAccess.objects.filter(event_id__in=list(event_ids)):
        out[a.event_id].append(a)
    return out


def audit_seal(*, batch: int = 5000) -> int:
    """Chain every committed, unsealed event (in id order) onto the tail; returns how many."""
    sealed = 0
    while True:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", [_SEAL_LOCK])
            last = AuditSeal.objects.order_by("-seq").first()
            prev = last.hash if last else GENESIS
            events = list(AuditEvent.objects.filter(seal__isnull=True).order_by("id")[:batch])
            if not events:
                return sealed
            accesses = accesses_by_event([e.pk for e in events])
            now = clock.now()
            seals = []
            for event in events:
                digest = chain_hash(prev, event, accesses.get(event.pk, []))
                seals.append(AuditSeal(event=event, prev_hash=prev, hash=digest, sealed_at=now))
                prev = digest
            AuditSeal.objects.bulk_create(seals, batch_size=1000)
            sealed += len(seals)


def sign(seq: int, digest: str) -> str:
    key = settings.CRENEAU_AUDIT_SIGNING_KEY.encode()
    return hmac.new(key, f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


def audit_checkpoint() -> AuditCheckpoint | None:
    """Seal, then sign the chain's tail into the database and the external checkpoint file."""
    audit_seal()
    last = AuditSeal.objects.order_by("-seq").first()
    if last is None:
        return None
    checkpoint = AuditCheckpoint.objects.create(
        seq=last.seq, hash=last.hash, created_at=clock.now(), signature=sign(last.seq, last.hash)
    )
    path = Path(settings.CRENEAU_AUDIT_CHECKPOINT_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="ascii") as fh:
        fh.write(f"{checkpoint.created_at.isoformat()} {checkpoint.seq} {checkpoint.hash} {checkpoint.signature}\n")
    return checkpoint
