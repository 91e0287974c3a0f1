"""Writing the audit trail, sealing it into a hash chain, signing checkpoints."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

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
) -> AuditEvent:
    """Append one event and its touched records. Inside the caller's transaction when there is one,
    so an audited write and its audit row commit or roll back together."""
    if not getattr(settings, "CRENEAU_AUDIT_ENABLED", True):
        return AuditEvent(action=action, object_type=object_type)
    now = clock.now()
    unique = list(dict.fromkeys(touched))
    # Inside the caller's transaction no savepoint is needed: a failure here fails the caller too.
    with transaction.atomic(savepoint=False):
        event = AuditEvent.objects.create(
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
        )
        if unique:
            AuditAccess.objects.bulk_create(
                [
                    AuditAccess(
                        event=event,
                        at=now,
                        principal=actor.key,
                        patient_id=t.patient_id,
                        appointment_id=t.appointment_id,
                        organization_id=t.organization_id,
                    )
                    for t in unique
                ],
                batch_size=500,
            )
    from .detection import after_record  # late import: detection reads the trail this module writes

    after_record(actor=actor, event=event)
    return event


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
