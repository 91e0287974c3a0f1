"""Checking the audit trail: recompute the chain and compare with seals and signed checkpoints."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
from pathlib import Path

from django.conf import settings

from creneau.core import clock

from .models import AuditAccess, AuditCheckpoint, AuditEvent, AuditSeal
from .services import GENESIS, accesses_by_event, chain_hash, sign


@dataclasses.dataclass(frozen=True)
class Problem:
    kind: str  # modified | deleted | reordered | truncated | bad-signature | unsealed
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} at {self.where}: {self.detail}"


def audit_verify(*, chunk: int = 5000, unsealed_grace: dt.timedelta = dt.timedelta(minutes=10)) -> list[Problem]:
    """Every problem found, in chain order. An empty list means the trail is intact."""
    problems: list[Problem] = []
    prev = GENESIS
    last_seq = 0
    hashes: dict[int, str] = {}
    while True:
        seals = list(AuditSeal.objects.filter(seq__gt=last_seq).order_by("seq")[:chunk])
        if not seals:
            break
        events = {e.pk: e for e in AuditEvent.objects.filter(pk__in=[s.event_id for s in seals])}
        accesses = accesses_by_event(list(events))
        for seal in seals:
            event = events.get(seal.event_id)
            if seal.prev_hash != prev:
                problems.append(Problem("reordered", f"seal {seal.seq}", "does not follow the previous seal"))
            if event is None:
                problems.append(Problem("deleted", f"event {seal.event_id}", f"sealed at seq {seal.seq}, now missing"))
            elif chain_hash(seal.prev_hash, event, accesses.get(event.pk, [])) != seal.hash:
                problems.append(Problem("modified", f"event {event.pk}", f"content differs from seal {seal.seq}"))
            prev = seal.hash
            hashes[seal.seq] = seal.hash
            last_seq = seal.seq
    orphans = AuditAccess.objects.exclude(event_id__in=AuditEvent.objects.values("pk")).values_list(
        "event_id", flat=True
    )
    for event_id in sorted(set(orphans)):
        problems.append(Problem("deleted", f"event {event_id}", "its access rows remain"))
    stale = AuditEvent.objects.filter(seal__isnull=True, at__lt=clock.now() - unsealed_grace).count()
    if stale:
        problems.append(Problem("unsealed", "tail", f"{stale} events older than the grace period are not sealed"))
    problems += _check_checkpoints(hashes, last_seq)
    return problems


def _check_checkpoints(hashes: dict[int, str], last_seq: int) -> list[Problem]:
    problems = []
    entries: list[tuple[str, int, str, str]] = [
        ("database", c.seq, c.hash, c.signature) for c in AuditCheckpoint.objects.order_by("id")
    ]
    path = Path(settings.CRENEAU_AUDIT_CHECKPOINT_FILE)
    if path.exists():
        for n, line in enumerate(path.read_text(encoding="ascii").splitlines(), 1):
            parts = line.split()
            if len(parts) == 4 and parts[1].isdigit():
                entries.append((f"file line {n}", int(parts[1]), parts[2], parts[3]))
    for where, seq, digest, signature in entries:
        if not hmac.compare_digest(signature, sign(seq, digest)):
            problems.append(Problem("bad-signature", f"checkpoint ({where})", f"seq {seq}"))
        elif seq > last_seq:
            problems.append(
                Problem("truncated", f"checkpoint ({where})", f"signed seq {seq} beyond the tail {last_seq}")
            )
        elif hashes.get(seq) != digest:
            problems.append(
                Problem("modified", f"checkpoint ({where})", f"chain at seq {seq} differs from the signed hash")
            )
    return problems
