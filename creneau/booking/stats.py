"""Practice statistics per month for the agendas an actor may see: fill rate (booked time over opening
time), no-show rate by visit reason, bookings by channel. Counts only, no personal data: nothing here
reads a patient, so nothing is audited; the scope is the actor's agendas (VIEW right), never more."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections import defaultdict

from django.conf import settings
from django.db.models import Q

from creneau.core.actors import Actor, ActorKind, AgendaRight
from creneau.scheduling.models import OpeningRule

from .models import Appointment, Source, Status


@dataclasses.dataclass
class MonthStats:
    month: dt.date  # first day of the month
    open_minutes: int = 0
    booked_minutes: int = 0
    bookings: int = 0
    no_shows: int = 0
    attended_or_missed: int = 0  # fulfilled + no-show: the base of the no-show rate
    by_channel: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(Source.values, 0))
    # visit reason name -> [no-shows, fulfilled + no-shows]
    by_motif: dict[str, list[int]] = dataclasses.field(default_factory=dict)

    @property
    def fill_rate(self) -> float | None:
        return self.booked_minutes / self.open_minutes if self.open_minutes else None

    @property
    def no_show_rate(self) -> float | None:
        return self.no_shows / self.attended_or_missed if self.attended_or_missed else None


def month_starts(last: dt.date, count: int) -> list[dt.date]:
    """The first days of `count` months ending with the month of `last`, oldest first."""
    out = []
    y, m = last.year, last.month
    for _ in range(count):
        out.append(dt.date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def _next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def practice_stats(actor: Actor, *, last_month: dt.date, months: int = 6) -> list[MonthStats]:
    """One row per month (oldest first) over the agendas the actor may see."""
    months = max(1, min(months, 24))
    scopes = actor.agendas_with(AgendaRight.VIEW) if actor.kind == ActorKind.STAFF else []
    starts = month_starts(last_month, months)
    rows = {m: MonthStats(month=m) for m in starts}
    if not scopes:
        return list(rows.values())
    tz = zoneinfo.ZoneInfo(settings.CRENEAU_DEFAULT_TIME_ZONE)
    first, end = starts[0], _next_month(starts[-1])
    lo = dt.datetime.combine(first, dt.time(), tz)
    hi = dt.datetime.combine(end, dt.time(), tz)
    scope_q = Q()
    for s in scopes:
        scope_q |= Q(organization_id=s.organization_id, practitioner_id=s.practitioner_id)
    appointments = (
        Appointment.objects.filter(scope_q, start_at__gte=lo, start_at__lt=hi)
        .exclude(status__in=[Status.HELD])
        .values_list("start_at", "end_at", "status", "source", "motif__name")
    )
    for start, end_at, status, source, motif in appointments:
        local = start.astimezone(tz).date()
        row = rows.get(dt.date(local.year, local.month, 1))
        if row is None:
            continue
        if status == Status.CANCELLED:
            continue
        row.bookings += 1
        row.booked_minutes += int((end_at - start).total_seconds() // 60)
        row.by_channel[source] = row.by_channel.get(source, 0) + 1
        if status in (Status.FULFILLED, Status.NO_SHOW):
            missed = status == Status.NO_SHOW
            row.attended_or_missed += 1
            row.no_shows += missed
            counts = row.by_motif.setdefault(motif, [0, 0])
            counts[0] += missed
            counts[1] += 1
    agenda_ids = [s.agenda_id for s in scopes]
    rules = OpeningRule.objects.filter(agenda_id__in=agenda_ids, valid_from__lt=end).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=first)
    )
    by_weekday: dict[int, list[OpeningRule]] = defaultdict(list)
    for rule in rules:
        by_weekday[rule.weekday].append(rule)
    day = first
    while day < end:
        row = rows[dt.date(day.year, day.month, 1)]
        for rule in by_weekday.get(day.weekday(), []):
            if rule.valid_from <= day and (rule.valid_until is None or day <= rule.valid_until):
                opens = dt.datetime.combine(day, rule.start_time, tz)
                closes = dt.datetime.combine(day, rule.end_time, tz)
                row.open_minutes += int((closes - opens).total_seconds() // 60)
        day += dt.timedelta(days=1)
    return list(rows.values())
