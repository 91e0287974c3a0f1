"""The slot engine: pure functions from opening rules and busy intervals to free slots.

No database access here, so the rules can be checked exhaustively with property-based tests. Opening
rules are wall-clock times in the site's time zone; everything they produce is converted to UTC
instants first, so a slot always lasts its real duration, including on DST change days."""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import uuid
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence

UTC = dt.UTC


@dataclasses.dataclass(frozen=True, slots=True)
class RuleSpec:
    weekday: int
    start_time: dt.time
    end_time: dt.time
    valid_from: dt.date
    valid_until: dt.date | None
    site_id: uuid.UUID | None = None
    motif_ids: frozenset[uuid.UUID] = frozenset()  # empty: every motif of the agenda
    agenda_id: uuid.UUID | None = None  # None: rules built outside an agenda (tests, demo generation)

    def applies_on(self, day: dt.date) -> bool:
        return (
            day.weekday() == self.weekday
            and self.valid_from <= day
            and (self.valid_until is None or day <= self.valid_until)
        )

    def allows(self, motif_id: uuid.UUID | None) -> bool:
        return not self.motif_ids or motif_id in self.motif_ids

    def offers(self, motif_id: uuid.UUID, agenda_id: uuid.UUID) -> bool:
        """These hours take this motif: same agenda (organization), and the motif admitted."""
        return (self.agenda_id is None or self.agenda_id == agenda_id) and self.allows(motif_id)


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Interval:
    start: dt.datetime
    end: dt.datetime


def local_to_utc(day: dt.date, wall: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """Wall-clock time on `day` in `tz` as a UTC instant.

    An ambiguous time (autumn) takes its first occurrence; a time that does not exist (spring gap) is
    read with the offset in force before the change, i.e. moved forward by the gap."""
    return dt.datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def opening_windows(
    rules: Iterable[RuleSpec],
    *,
    tz: zoneinfo.ZoneInfo,
    start: dt.datetime,
    end: dt.datetime,
    motif_id: uuid.UUID | None = None,
    site_id: uuid.UUID | None = None,
) -> list[tuple[uuid.UUID | None, Interval]]:
    """UTC opening windows overlapping [start, end), each with its site, sorted by start."""
    rules = [r for r in rules if r.allows(motif_id) and (site_id is None or r.site_id == site_id)]
    first_day = start.astimezone(tz).date() - dt.timedelta(days=1)
    last_day = end.astimezone(tz).date() + dt.timedelta(days=1)
    out: list[tuple[uuid.UUID | None, Interval]] = []
    day = first_day
    while day <= last_day:
        for rule in rules:
            if rule.applies_on(day):
                w_start = local_to_utc(day, rule.start_time, tz)
                w_end = local_to_utc(day, rule.end_time, tz)
                if w_end > w_start and w_end > start and w_start < end:
                    out.append((rule.site_id, Interval(w_start, w_end)))
        day += dt.timedelta(days=1)
    out.sort(key=lambda item: (item[1].start, str(item[0])))
    return out


def merge_busy(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and merge overlapping busy intervals."""
    merged: list[Interval] = []
    for iv in sorted(intervals):
        if merged and iv.start <= merged[-1].end:
            if iv.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, iv.end)
        else:
            merged.append(iv)
    return merged


def _overlaps_any(
    busy: Sequence[Interval], starts: Sequence[dt.datetime], lo: dt.datetime, hi: dt.datetime
) -> dt.datetime | None:
    """End of a merged busy interval overlapping [lo, hi), or None when [lo, hi) is free."""
    i = bisect.bisect_right(starts, lo) - 1
    if i >= 0 and busy[i].end > lo:
        return busy[i].end
    if i + 1 < len(busy) and busy[i + 1].start < hi:
        return busy[i + 1].end
    return None


def free_slots(
    windows: Iterable[tuple[uuid.UUID | None, Interval]],
    busy: Iterable[Interval],
    *,
    duration: dt.timedelta,
    buffer: dt.timedelta = dt.timedelta(0),
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    limit: int | None = None,
) -> Iterator[tuple[uuid.UUID | None, Interval]]:
    """Free slots of `duration` on each window's grid (window start + k·duration).

    A slot needs its whole [start, start + duration + buffer) clear of busy time (appointments carry
    their own buffer in their busy interval) and [start, start + duration) inside the window."""
    if duration <= dt.timedelta(0):
        raise ValueError("duration must be positive")
    merged = merge_busy(busy)
    starts = [iv.start for iv in merged]
    count = 0
    seen: set[dt.datetime] = set()
    for site_id, window in windows:
        t = window.start
        if not_before is not None and t < not_before:
            steps = -(-(not_before - t) // duration)  # ceil: first grid point at or after not_before
            t = t + steps * duration
        while t + duration <= window.end:
            if not_after is not None and t > not_after:
                break
            blocker = _overlaps_any(merged, starts, t, t + duration + buffer)
            if blocker is None:
                if t not in seen:
                    seen.add(t)
                    yield site_id, Interval(t, t + duration)
                    count += 1
                    if limit is not None and count >= limit:
                        return
                t += duration
            else:
                # Jump to the first grid point at or after the end of the blocking interval.
                steps = max(1, -(-(blocker - window.start) // duration))
                t = window.start + steps * duration
