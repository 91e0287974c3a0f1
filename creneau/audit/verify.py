"""Checking the audit trail: every seal, every writer's MAC, and the chain against the published heads.

Kinds of problem, each naming where it is:

- `modified`: an event or its access rows differ from what was written and sealed;
- `bad-seal`: an event is as written, but its seal was not made with the seal key (the chain was
  recomputed after a row was removed or changed);
- `forged`: an event the application did not write (no valid write MAC, or inserted by another database
  role), or an unkeyed seal after keyed ones;
- `deleted`: a sealed event, or an event whose access rows remain, is gone;
- `reordered`: a seal does not follow the previous one;
- `truncated`: a published head lies beyond the end of the chain (rows were removed from the tail, or the
  tables emptied);
- `diverged`: the chain differs from a published head at the same position;
- `other-trail`: a sink holds heads of another trail (they name a different first seal): the sink was
  kept from another database, or this database's whole trail was replaced. Never taken for truncation;
- `bad-signature`: a published head is not signed by a trusted Ed25519 key;
- `unanchored`: seals older than the grace period that a sink holds no head for (its file gone, or
  publishing failing);
- `sink-unreadable`: a sink could not be read;
- `unsealed`: events older than the grace period not yet chained (the sealer is not running);
- `unknown-key`: a seal or MAC names a seal key that is not configured.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db import connection

from creneau.core import clock

from . import anchors, keys
from .models import AuditAccess, AuditCheckpoint, AuditEvent, AuditSeal
from .services import GENESIS, accesses_by_event, legacy_chain_hash, mac_is_valid, seal_hash


@dataclasses.dataclass(frozen=True)
class Problem:
    kind: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} at {self.where}: {self.detail}"


def writer_roles() -> set[str] | None:
    """The database roles allowed to write audit events (PostgreSQL only); None: not checked."""
    if connection.vendor != "postgresql":
        return None
    roles = set(settings.CRENEAU_AUDIT_WRITER_ROLES) or (
        {settings.CRENEAU_DB_RUNTIME_ROLE} if settings.CRENEAU_DB_RUNTIME_ROLE else set()
    )
    return roles or None


@dataclasses.dataclass
class _Published:
    """The heads one sink holds."""

    name: str
    heads: list[anchors.Head]
    unreadable: str = ""


def _read_sinks(sinks: Iterable[anchors.Sink]) -> list[_Published]:
    out = []
    for sink in sinks:
        try:
            heads = [h for h in (anchors.parse_line(line) for line in sink.read()) if h is not None]
            out.append(_Published(sink.name, heads))
        except (anchors.SinkError, OSError) as exc:
            out.append(_Published(sink.name, [], unreadable=str(exc) or type(exc).__name__))
    db_heads = [
        anchors.Head(
            seq=c.seq,
            hash=c.hash,
            at=c.created_at.astimezone(dt.UTC).isoformat(),
            kid=c.key_id,
            sig=c.signature,
            trail=c.trail,
        )
        for c in AuditCheckpoint.objects.exclude(key_id="").order_by("id")
    ]
    out.append(_Published("database checkpoints", db_heads))
    return out


def audit_verify(
    *,
    chunk: int = 5000,
    unsealed_grace: dt.timedelta | None = None,
    sinks: Iterable[anchors.Sink] | None = None,
) -> list[Problem]:
    """Every problem found, in chain order, then those against the published heads. An empty list means
    the trail is intact."""
    grace = unsealed_grace or dt.timedelta(seconds=settings.CRENEAU_AUDIT_UNSEALED_GRACE_SECONDS)
    published = _read_sinks(anchors.configured_sinks() if sinks is None else sinks)
    trusted = keys.trusted_public_keys()
    # Only the chain hashes at published positions are kept, however long the chain.
    wanted = {h.seq for p in published for h in p.heads}
    roles = writer_roles()
    problems: list[Problem] = []
    prev = GENESIS
    last_seq = 0
    trail = ""
    keyed = False
    hashes: dict[int, str] = {}
    while True:
        seals = list(AuditSeal.objects.filter(seq__gt=last_seq).order_by("seq")[:chunk])
        if not seals:
            break
        events = {e.pk: e for e in AuditEvent.objects.filter(pk__in=[s.event_id for s in seals])}
        accesses = accesses_by_event(list(events))
        for seal in seals:
            event = events.get(seal.event_id)
            trail = trail or seal.hash
            if seal.prev_hash != prev:
                problems.append(Problem("reordered", f"seal {seal.seq}", "does not follow the previous seal"))
            if event is None:
                problems.append(Problem("deleted", f"event {seal.event_id}", f"sealed at seq {seal.seq}, now missing"))
            elif not seal.key_id:
                if keyed:
                    problems.append(Problem("forged", f"seal {seal.seq}", "unkeyed seal after keyed seals"))
                elif legacy_chain_hash(seal.prev_hash, event, accesses.get(event.pk, [])) != seal.hash:
                    problems.append(Problem("modified", f"event {event.pk}", f"content differs from seal {seal.seq}"))
            else:
                keyed = True
                problems += _check_keyed(seal, event, accesses.get(event.pk, []), roles)
            prev = seal.hash
            if seal.seq in wanted:
                hashes[seal.seq] = seal.hash
            last_seq = seal.seq
    orphans = AuditAccess.objects.exclude(event_id__in=AuditEvent.objects.values("pk")).values_list(
        "event_id", flat=True
    )
    for event_id in sorted(set(orphans)):
        problems.append(Problem("deleted", f"event {event_id}", "its access rows remain"))
    problems += _check_unsealed(grace, roles)
    for p in published:
        problems += _check_published(p, trusted, hashes, last_seq, grace, trail)
    return problems


def _check_keyed(
    seal: AuditSeal, event: AuditEvent, accesses: list[AuditAccess], roles: set[str] | None
) -> list[Problem]:
    try:
        seal_ok = seal_hash(seal.prev_hash, event, accesses, seal.key_id) == seal.hash
    except keys.UnknownSealKey:
        return [Problem("unknown-key", f"seal {seal.seq}", f"seal key {seal.key_id!r} is not configured")]
    mac_ok = mac_is_valid(event, accesses)
    if not seal_ok:
        if mac_ok:
            detail = f"event {event.pk} is as written but its seal was not made with the seal key"
            return [Problem("bad-seal", f"seal {seal.seq}", detail)]
        return [Problem("modified", f"event {event.pk}", f"content differs from seal {seal.seq}")]
    return _check_writer(event, mac_ok, roles)


def _check_writer(event: AuditEvent, mac_ok: bool, roles: set[str] | None) -> list[Problem]:
    if not mac_ok:
        return [Problem("forged", f"event {event.pk}", "not written by the application (no valid write MAC)")]
    if roles is not None and event.db_role not in roles:
        return [Problem("forged", f"event {event.pk}", f"inserted by database role {event.db_role or '?'!r}")]
    return []


def forged_event_ids(event_ids: Iterable[int]) -> set[int]:
    """Which of these events the application did not write (invalid write MAC, or another database role).
    Events under a pre-keyed (legacy) seal carry no MAC and are not judged here."""
    ids = list(event_ids)
    legacy = set(AuditSeal.objects.filter(event_id__in=ids, key_id="").values_list("event_id", flat=True))
    events = [e for e in AuditEvent.objects.filter(pk__in=ids) if e.pk not in legacy]
    accesses = accesses_by_event([e.pk for e in events])
    roles = writer_roles()
    return {e.pk for e in events if _check_writer(e, mac_is_valid(e, accesses.get(e.pk, [])), roles)}


def _check_unsealed(grace: dt.timedelta, roles: set[str] | None) -> list[Problem]:
    problems: list[Problem] = []
    unsealed = list(AuditEvent.objects.filter(seal__isnull=True).order_by("id")[:10000])
    accesses = accesses_by_event([e.pk for e in unsealed])
    for event in unsealed:
        problems += _check_writer(event, mac_is_valid(event, accesses.get(event.pk, [])), roles)
    stale = AuditEvent.objects.filter(seal__isnull=True, at__lt=clock.now() - grace).count()
    if stale:
        problems.append(
            Problem("unsealed", "tail", f"{stale} events older than {int(grace.total_seconds())} s are not sealed")
        )
    return problems


def _check_published(
    p: _Published, trusted: dict, hashes: dict[int, str], last_seq: int, grace: dt.timedelta, trail: str
) -> list[Problem]:
    where = f"sink ({p.name})"
    if p.unreadable:
        return [Problem("sink-unreadable", where, p.unreadable)]
    problems = []
    beyond: list[anchors.Head] = []
    diverged: list[anchors.Head] = []
    foreign: list[anchors.Head] = []
    good: list[int] = []
    for head in p.heads:
        if not keys.verify_signature(trusted, head.kid, head.sig, head.message()):
            problems.append(Problem("bad-signature", where, f"head at seq {head.seq} is not signed by a trusted key"))
        elif head.trail and trail and head.trail != trail:
            foreign.append(head)
        elif head.seq > last_seq:
            beyond.append(head)
        elif hashes.get(head.seq) != head.hash:
            diverged.append(head)
        else:
            good.append(head.seq)
    if foreign:
        trails = sorted({h.trail[:12] for h in foreign})
        newest = max(foreign, key=lambda h: h.at)
        problems.append(
            Problem(
                "other-trail",
                where,
                f"{len(foreign)} signed heads belong to another trail ({', '.join(trails)}…, newest published "
                f"{newest.at}) than this database's ({trail[:12]}…): move that sink's heads aside if this "
                "database was recreated on purpose; otherwise this database's whole trail was replaced",
            )
        )
    if beyond:
        top = max(beyond, key=lambda h: h.seq)
        problems.append(
            Problem(
                "truncated",
                where,
                f"the chain ends at seq {last_seq} but {len(beyond)} signed heads go further, "
                f"up to seq {top.seq} (published {top.at})"
                + ("" if last_seq else "; if this database is new, the sink may hold another database's heads"),
            )
        )
    if diverged:
        first = min(diverged, key=lambda h: h.seq)
        problems.append(
            Problem(
                "diverged",
                where,
                f"the chain differs from {len(diverged)} signed heads, "
                f"the first at seq {first.seq} (published {first.at})",
            )
        )
    if p.name != "database checkpoints":
        covered = max(good, default=0)
        late = (
            AuditSeal.objects.filter(seq__gt=covered, sealed_at__lt=clock.now() - grace).order_by("seq").first()
            if covered < last_seq
            else None
        )
        if late is not None:
            problems.append(
                Problem(
                    "unanchored",
                    where,
                    f"no published head covers seals {late.seq}–{last_seq} (sealed since {late.sealed_at.isoformat()})",
                )
            )
    return problems
