"""Extraction detection over the audit stream, per principal (API client, staff or patient account).

Rules: distinct patients touched in a sliding window against a per-kind threshold and the principal's
own baseline; enumeration (many not-found answers); access by staff at unusual hours. Past the hard
limit the principal is suspended at once. Everything decided is itself audited.

API clients also have published **quotas** (`quota_patients`, `quota_not_found` per window), below the
hard limits: reaching one *throttles* the client (its requests answer 429 with Retry-After until the
window has moved on: `throttle`, `throttled_until`) instead of suspending it. A client that keeps
sending requests while throttled (more than `quota_grace` of them) is suspended (rule `quota-ignored`).
So a partner syncing its own agenda, or a test run full of not-founds, meets a 429 it can honour at
worst; a crawler that ignores it is stopped. The throttle lives in the cache (Redis): without Redis it
is not applied, and the hard limits (database) still hold."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
import uuid
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils.translation import gettext as _

from creneau.core import clock
from creneau.core.actors import Actor, ActorKind
from creneau.core.cache import REDIS_ERRORS
from creneau.core.errors import PermissionDenied

from .models import (
    Action,
    AuditAccess,
    AuditEvent,
    DetectionAlert,
    DetectionWindowEntry,
    Outcome,
    Severity,
    SuspendedPrincipal,
)

log = logging.getLogger("creneau.detection")
CACHE_ERRORS: tuple[type[BaseException], ...] = REDIS_ERRORS


def _conf() -> dict[str, Any]:
    conf: dict[str, Any] = settings.CRENEAU_DETECTION
    return conf


@dataclasses.dataclass(frozen=True)
class Limits:
    alert_patients: int
    suspend_patients: int
    alert_not_found: int
    suspend_not_found: int
    # Throttle (429) at these, before the hard limits (None: no quota for this kind of principal).
    quota_patients: int | None = None
    quota_not_found: int | None = None


def limits_for(kind: str) -> Limits:
    conf = _conf()["limits"].get(kind) or _conf()["limits"]["default"]
    return Limits(**conf)


# Writes (a secretary creating callers) are not extraction; reads and searches are. Exports are
# either one patient's own data or a four-eyes bulk export (creneau.exports), audited on their own.
READ_ACTIONS = (Action.READ, Action.SEARCH)


def is_suspended(principal: str) -> bool:
    return SuspendedPrincipal.objects.filter(principal=principal).exists()


def refuse_if_suspended(actor: Actor) -> None:
    """Scoped selectors call this first: a suspended principal gets nothing more, whatever channel."""
    if actor.kind != ActorKind.SYSTEM and is_suspended(actor.key):
        raise PermissionDenied(_("This account or client is suspended. Contact the platform's support."))


def window_since(now: dt.datetime) -> dt.datetime:
    """Start of the sliding window that ends now."""
    return now - dt.timedelta(minutes=_conf()["window_minutes"])


def counts_toward_window(actor: Actor, event: AuditEvent) -> bool:
    """Reads and searches that returned records count toward the principal's distinct patients."""
    return actor.kind != ActorKind.SYSTEM and bool(event.record_count) and event.action in READ_ACTIONS


def note_reads(principal: str, patient_ids: list[uuid.UUID], now: dt.datetime) -> int:
    """Mark the patients as read by the principal now; returns the distinct patients in its window.
    What audit_record does in one statement on PostgreSQL, for SQLite (dev and tests): one upsert and
    one count, whatever the number of patients."""
    if patient_ids:
        table = DetectionWindowEntry._meta.db_table
        field = DetectionWindowEntry._meta.get_field("patient_id")
        at = connection.ops.adapt_datetimefield_value(now)
        rows = [(principal, field.get_db_prep_value(p, connection), at) for p in patient_ids]
        with connection.cursor() as cur:
            cur.execute(
                f"INSERT INTO {table} (principal, patient_id, last_at) VALUES "  # noqa: S608 (no user input)
                + ", ".join(["(%s, %s, %s)"] * len(rows))
                + " ON CONFLICT (principal, patient_id) DO UPDATE SET last_at = max(last_at, excluded.last_at)",
                [v for row in rows for v in row],
            )
    return DetectionWindowEntry.objects.filter(principal=principal, last_at__gte=window_since(now)).count()


def detection_window_prune() -> int:
    """Forget pairs last read before the window (they can no longer count); returns how many."""
    deleted, _ = DetectionWindowEntry.objects.filter(last_at__lt=window_since(clock.now())).delete()
    return deleted


@dataclasses.dataclass(frozen=True)
class Finding:
    """A rule that fired for a principal: what was measured against which threshold since when."""

    rule: str
    severity: str
    measured: int
    threshold: int
    since: dt.datetime
    suspend: bool
    # Seconds the principal is throttled for (a quota reached), or 0.
    throttle_seconds: int = 0


def evaluate(*, actor: Actor, event: AuditEvent, distinct: int | None) -> list[Finding]:
    """The rules that fire for the principal that just produced `event`; `distinct` is its window's
    count of distinct patients read, for an event that counts toward it (see note_reads). Reads only:
    acting on a finding (alert, suspension, incident) is `audit.services`' and its listeners' job."""
    found: list[Finding] = []
    if actor.kind == ActorKind.SYSTEM:
        return found
    conf = _conf()
    now = event.at
    since = window_since(now)
    limits = limits_for(str(actor.kind))
    if distinct is not None:
        alert_at = limits.alert_patients
        if limits.alert_patients <= distinct < limits.suspend_patients:
            # Only a count past the fixed threshold needs the principal's own, costlier baseline.
            alert_at = max(alert_at, int(_baseline(actor.key, now) * conf["baseline_factor"]))
        if distinct >= limits.suspend_patients:
            found.append(
                Finding("mass-read", Severity.CRITICAL, distinct, limits.suspend_patients, since, suspend=True)
            )
        else:
            if distinct >= alert_at:
                found.append(Finding("mass-read", Severity.WARNING, distinct, alert_at, since, False))
            quota = limits.quota_patients
            if quota is not None and distinct >= quota:
                wait = _patients_wait(actor.key, since, distinct - quota, now)
                found.append(Finding("patient-quota", Severity.INFO, distinct, quota, since, False, wait))
    if event.outcome == Outcome.NOT_FOUND:
        misses = AuditEvent.objects.filter(principal=actor.key, at__gte=since, outcome=Outcome.NOT_FOUND).count()
        if misses >= limits.suspend_not_found:
            found.append(
                Finding("enumeration", Severity.CRITICAL, misses, limits.suspend_not_found, since, suspend=True)
            )
        else:
            if misses >= limits.alert_not_found:
                found.append(Finding("enumeration", Severity.WARNING, misses, limits.alert_not_found, since, False))
            quota = limits.quota_not_found
            if quota is not None and misses >= quota:
                wait = _misses_wait(actor.key, since, misses - quota, now)
                found.append(Finding("not-found-quota", Severity.INFO, misses, quota, since, False, wait))
    if actor.kind == ActorKind.STAFF and event.record_count:
        local = now.astimezone(zoneinfo.ZoneInfo(settings.CRENEAU_DEFAULT_TIME_ZONE))
        start, end = conf["working_hours"]
        if not (start <= local.hour < end):
            found.append(Finding("unusual-hours", Severity.INFO, local.hour, start, since, False))
    return found


def _until_seconds(oldest_counted: dt.datetime | None, now: dt.datetime) -> int:
    """Seconds until `oldest_counted` leaves the window (then the count is back under the quota)."""
    window = int(_conf()["window_minutes"]) * 60
    if oldest_counted is None:
        return window
    left = (oldest_counted + dt.timedelta(seconds=window) - now).total_seconds()
    return max(1, min(window, int(left) + 1))


def _patients_wait(principal: str, since: dt.datetime, over: int, now: dt.datetime) -> int:
    """How long until the window holds fewer patients than the quota: when the `over`-th oldest entry
    (0-based) has left it."""
    entries = DetectionWindowEntry.objects.filter(principal=principal, last_at__gte=since).order_by("last_at")
    row = entries.values_list("last_at", flat=True)[over : over + 1]
    return _until_seconds(next(iter(row), None), now)


def _misses_wait(principal: str, since: dt.datetime, over: int, now: dt.datetime) -> int:
    misses = AuditEvent.objects.filter(principal=principal, at__gte=since, outcome=Outcome.NOT_FOUND).order_by("at")
    row = misses.values_list("at", flat=True)[over : over + 1]
    return _until_seconds(next(iter(row), None), now)


def _throttle_key(principal: str) -> str:
    return f"detection:throttle:{hashlib.sha256(principal.encode()).hexdigest()[:32]}"


def throttle(principal: str, seconds: int) -> None:
    """Throttle the principal for `seconds` (a quota reached): its API requests answer 429 until then."""
    until = int(clock.now().timestamp()) + seconds
    with contextlib.suppress(*CACHE_ERRORS):
        cache.set(_throttle_key(principal), until, seconds)


def throttled_until(principal: str) -> int | None:
    """The epoch second the principal's throttle ends, or None (not throttled, or the cache is down)."""
    try:
        until = cache.get(_throttle_key(principal))
    except CACHE_ERRORS:
        return None
    if until is None or int(until) <= int(clock.now().timestamp()):
        return None
    return int(until)


def window_seconds() -> int:
    return int(_conf()["window_minutes"]) * 60


def quota_grace() -> int:
    """Requests a throttled principal may still send (each answered 429) before it is suspended."""
    return int(_conf().get("quota_grace", 30))


def _baseline(principal: str, now: dt.datetime) -> float:
    """Busiest window-equivalent of the principal's past days (distinct patients per day / windows a day)."""
    days = _conf()["baseline_days"]
    start = now - dt.timedelta(days=days)
    end = now - dt.timedelta(days=1)
    if start >= end:
        return 0.0
    total = (
        AuditAccess.objects.filter(
            principal=principal, at__gte=start, at__lt=end, patient_id__isnull=False, event__action__in=READ_ACTIONS
        )
        .values("patient_id")
        .distinct()
        .count()
    )
    return total / days


def alert_create(*, actor: Actor, finding: Finding) -> DetectionAlert | None:
    """Store the finding as an alert, or None when the same rule and severity already fired for the
    principal in this window (one alert per window, not one per read)."""
    already = DetectionAlert.objects.filter(
        principal=actor.key, rule=finding.rule, severity=finding.severity, at__gte=finding.since
    )
    if already.exists():
        return None
    alert = DetectionAlert.objects.create(
        at=clock.now(),
        principal=actor.key,
        rule=finding.rule,
        severity=finding.severity,
        measured=finding.measured,
        threshold=finding.threshold,
        suspended=finding.suspend,
        organization_ids=sorted(str(o) for o in actor.organization_ids),
    )
    log.warning(
        "detection rule %s fired for %s (%s >= %s)%s",
        finding.rule,
        actor.key,
        finding.measured,
        finding.threshold,
        " — suspended" if finding.suspend else "",
    )
    return alert
