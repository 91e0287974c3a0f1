"""Writing the audit trail (with the writer's MAC), sealing it into a keyed chain, publishing its head."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from creneau.core import clock, ratelimit
from creneau.core.actors import Actor
from creneau.core.events import emit

from . import anchors, detection, events, keys
from .detection import counts_toward_window, note_reads, window_since
from .models import (
    Action,
    AuditAccess,
    AuditCheckpoint,
    AuditEvent,
    AuditSeal,
    Outcome,
    Severity,
    SuspendedPrincipal,
)

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
    principal's detection window in the same transaction, then the detection rules run and each
    finding is acted on (`_act_on`)."""
    if not getattr(settings, "CRENEAU_AUDIT_ENABLED", True):
        return AuditEvent(action=action, object_type=object_type)
    event, distinct = _append(
        actor=actor,
        action=action,
        object_type=object_type,
        touched=touched,
        outcome=outcome,
        via=via,
        object_id=object_id,
        changes=changes,
    )
    for finding in detection.evaluate(actor=actor, event=event, distinct=distinct):
        _act_on(actor, finding)
    return event


def _append(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    touched: Sequence[Touched] = (),
    outcome: str = Outcome.OK,
    via: str = "",
    object_id: object = "",
    changes: dict[str, Any] | None = None,
) -> tuple[AuditEvent, int | None]:
    """The trail alone: write the event (and the principal's window for a counted read), no rules.
    Returns the event and the window's distinct patients when the event counts toward it."""
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
        writer=settings.CRENEAU_INSTANCE_ID,
    )
    event.mac = write_mac(event, [_access(event, t) for t in unique])
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
    return event, distinct


def _act_on(actor: Actor, finding: detection.Finding) -> None:
    """A rule fired: store the alert (once per window), audit it, suspend past the hard limit, and tell
    the listeners (`audit.alert_raised`: incidents opens one for a suspension and mails the alert). The
    system's own rows go through `_append`: detection never runs on what detection does."""
    if finding.throttle_seconds:
        # Every time a quota is reached (not once per window): the throttle may have ended meanwhile.
        detection.throttle(actor.key, finding.throttle_seconds)
    with transaction.atomic():
        alert = detection.alert_create(actor=actor, finding=finding)
        if alert is None:
            return
        if getattr(settings, "CRENEAU_AUDIT_ENABLED", True):
            _append(actor=Actor.system(), action=Action.ALERT, object_type="principal", via=f"detection:{finding.rule}")
        if finding.suspend:
            principal_suspend(principal=actor.key, reason=f"detection:{finding.rule}")
        emit(events.ALERT_RAISED, alert=alert)


def throttled_request(actor: Actor) -> bool:
    """A request of a throttled principal (answered 429): counted, and past `quota_grace` of them in
    the window the principal is suspended (rule `quota-ignored`, alert and incident as for any
    suspension). Returns True when this request suspended it."""
    grace = detection.quota_grace()
    count = ratelimit.hit(ratelimit.Limit("throttled-requests", grace, detection.window_seconds()), actor.key)
    if count <= grace:
        return False
    since = window_since(clock.now())
    _act_on(actor, detection.Finding("quota-ignored", Severity.CRITICAL, count, grace, since, suspend=True))
    return True


def principal_suspend(*, principal: str, reason: str) -> None:
    """Stop a principal now (detection or an operator): stored as suspended, audited, and announced
    (`audit.principal_suspended`: accounts deactivates a user account; every channel's gate refuses it)."""
    with transaction.atomic():
        SuspendedPrincipal.objects.get_or_create(principal=principal, defaults={"at": clock.now(), "reason": reason})
        emit(events.PRINCIPAL_SUSPENDED, principal=principal, reason=reason)
        if getattr(settings, "CRENEAU_AUDIT_ENABLED", True):
            _append(actor=Actor.system(), action=Action.SUSPEND, object_type="principal", via=reason)


def _jsonable(value: Any) -> Any:
    """Dates, times, UUIDs and lazy strings as text, so a change record is plain JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).isoformat()
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
                                  object_type, outcome, via, record_count, object_id, changes, writer, mac)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s) RETURNING id
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
        e.object_type, e.outcome, e.via, e.record_count, e.object_id, json.dumps(e.changes), e.writer, e.mac,
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


def legacy_canonical(event: AuditEvent, accesses: Iterable[AuditAccess]) -> bytes:
    """What an unkeyed seal (before keyed seals existed) hashed; only verification still uses it."""
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
    if event.object_id or event.changes:
        body += [event.object_id, json.dumps(event.changes, sort_keys=True, separators=(",", ":"))]
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()


def legacy_chain_hash(prev_hash: str, event: AuditEvent, accesses: Iterable[AuditAccess]) -> str:
    return hashlib.sha256(prev_hash.encode() + legacy_canonical(event, accesses)).hexdigest()


def _ip(value: str | None) -> str:
    """One spelling per address, whether it comes from a request or back from the database."""
    if not value:
        return ""
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return str(value)


def _content(event: AuditEvent, accesses: Iterable[AuditAccess]) -> list[Any]:
    """Every column the writer sets, of the event and of its access rows (not the id, which the database
    assigns, nor the database role, which its trigger sets)."""
    rows = sorted(
        (
            str(a.patient_id or ""),
            str(a.appointment_id or ""),
            str(a.organization_id or ""),
            a.principal,
            a.at.astimezone(dt.UTC).isoformat(),
        )
        for a in accesses
    )
    return [
        event.at.astimezone(dt.UTC).isoformat(),
        event.principal,
        event.actor_kind,
        event.actor_role,
        event.channel,
        event.api_client_id,
        _ip(event.ip),
        event.action,
        event.object_type,
        event.outcome,
        event.via,
        event.record_count,
        event.object_id,
        json.dumps(event.changes, sort_keys=True, separators=(",", ":"), ensure_ascii=True),
        event.writer,
        rows,
    ]


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode()


def write_mac(event: AuditEvent, accesses: Iterable[AuditAccess], kid: str | None = None) -> str:
    """The writer's MAC, "kid:hex": only a holder of the seal keys (the application) can produce it, so
    a row inserted by anyone else is told apart even before it is sealed."""
    sk = keys.seal_keys()
    kid = kid or sk.primary
    return f"{kid}:{sk.mac(kid, b'creneau-audit-write/1', _dumps(_content(event, accesses)))}"


def mac_is_valid(event: AuditEvent, accesses: Iterable[AuditAccess]) -> bool:
    kid, sep, _ = event.mac.partition(":")
    if not sep:
        return False
    try:
        expected = write_mac(event, accesses, kid)
    except keys.UnknownSealKey:
        return False
    return hmac.compare_digest(expected, event.mac)


def seal_hash(prev_hash: str, event: AuditEvent, accesses: Iterable[AuditAccess], kid: str) -> str:
    """HMAC under seal key `kid` of the previous hash, the event's id, content, database role and MAC:
    without the key nobody can recompute the chain after removing or changing a row."""
    message = _dumps([prev_hash, event.pk, event.db_role, event.mac, _content(event, accesses)])
    return keys.seal_keys().mac(kid, b"creneau-audit-seal/1", message)


def accesses_by_event(event_ids: Sequence[int]) -> dict[int, list[AuditAccess]]:
    out: dict[int, list[AuditAccess]] = defaultdict(list)
    for a in AuditAccess.objects.filter(event_id__in=list(event_ids)):
        out[a.event_id].append(a)
    return out


def audit_seal(*, batch: int = 5000, publish: bool = True) -> int:
    """Chain every committed, unsealed event (in id order) onto the tail under the primary seal key,
    then publish the new head to the anchor sinks; returns how many events were sealed.

    Events are sealed whatever their MAC or database role says: a forged row is kept in the chain (so its
    later removal shows too) and reported by `audit_verify`."""
    sealed = 0
    kid = keys.seal_keys().primary
    while True:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", [_SEAL_LOCK])
            last = AuditSeal.objects.order_by("-seq").first()
            prev = last.hash if last else GENESIS
            events = list(AuditEvent.objects.filter(seal__isnull=True).order_by("id")[:batch])
            if not events:
                break
            accesses = accesses_by_event([e.pk for e in events])
            now = clock.now()
            seals = []
            for event in events:
                digest = seal_hash(prev, event, accesses.get(event.pk, []), kid)
                seals.append(AuditSeal(event=event, prev_hash=prev, hash=digest, sealed_at=now, key_id=kid))
                prev = digest
            AuditSeal.objects.bulk_create(seals, batch_size=1000)
            sealed += len(seals)
    if publish:
        audit_anchor()
    return sealed


def audit_anchor(*, force: bool = False) -> AuditCheckpoint | None:
    """Sign the chain's head and append it to every anchor sink, unless it was already published (or
    `force`). The database keeps a copy (AuditCheckpoint) once every sink has taken the head; a failing
    sink is logged and the head published again at the next seal."""
    last = AuditSeal.objects.order_by("-seq").only("seq", "hash").first()
    if last is None:
        return None
    if not force:
        published = AuditCheckpoint.objects.order_by("-id").values_list("seq", flat=True).first()
        if published is not None and published >= last.seq:
            return None
    head = anchors.sign_head(last.seq, last.hash, clock.now(), trail=trail_id() or "")
    if anchors.publish(head):
        return None
    return AuditCheckpoint.objects.create(
        seq=head.seq,
        hash=head.hash,
        created_at=dt.datetime.fromisoformat(head.at),
        signature=head.sig,
        key_id=head.kid,
        trail=head.trail,
    )


def trail_id() -> str | None:
    """This database's trail: the hash of its first seal (None before anything is sealed). A new
    database, or one whose whole trail was replaced, has another."""
    return AuditSeal.objects.order_by("seq").values_list("hash", flat=True).first()


def audit_checkpoint() -> AuditCheckpoint | None:
    """Seal, then publish the head now even if it was published already (`audit_seal --checkpoint`)."""
    audit_seal(publish=False)
    return audit_anchor(force=True)
