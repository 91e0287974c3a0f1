"""Property-based tests of the pure slot engine: whatever the rules and busy times, the slots it
offers are bookable for real."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

from hypothesis import given, settings
from hypothesis import strategies as st

from creneau.scheduling import engine

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
UTC = dt.UTC
# Windows that include both 2026 DST changes in Paris (29 March, 25 October).
BASE_DAYS = [dt.date(2026, 3, 26), dt.date(2026, 10, 22), dt.date(2026, 6, 1)]


@st.composite
def rules(draw: st.DrawFn) -> list[engine.RuleSpec]:
    out = []
    for _ in range(draw(st.integers(1, 5))):
        start_min = draw(st.integers(0, 22 * 60)) // 5 * 5
        end_min = draw(st.integers(start_min + 5, 24 * 60 - 1)) // 5 * 5
        if end_min <= start_min:
            end_min = start_min + 5
        out.append(
            engine.RuleSpec(
                weekday=draw(st.integers(0, 6)),
                start_time=dt.time(start_min // 60, start_min % 60),
                end_time=dt.time(min(end_min // 60, 23), end_min % 60 if end_min < 24 * 60 else 59),
                valid_from=dt.date(2026, 1, 1),
                valid_until=None,
            )
        )
    return out


@dataclasses.dataclass(frozen=True)
class Scenario:
    rules: list[engine.RuleSpec]
    busy: list[engine.Interval]
    duration: dt.timedelta
    buffer: dt.timedelta
    start: dt.datetime
    end: dt.datetime


@st.composite
def scenario(draw: st.DrawFn) -> Scenario:
    base = draw(st.sampled_from(BASE_DAYS))
    start = dt.datetime.combine(base, dt.time(0, 0), tzinfo=PARIS).astimezone(UTC)
    end = start + dt.timedelta(days=7)
    busy = []
    for _ in range(draw(st.integers(0, 12))):
        offset = dt.timedelta(minutes=draw(st.integers(0, 7 * 24 * 60)))
        length = dt.timedelta(minutes=draw(st.integers(1, 240)))
        busy.append(engine.Interval(start + offset, start + offset + length))
    return Scenario(
        rules=draw(rules()),
        busy=busy,
        duration=dt.timedelta(minutes=draw(st.sampled_from([5, 10, 15, 20, 30, 45, 60]))),
        buffer=dt.timedelta(minutes=draw(st.sampled_from([0, 0, 5, 10]))),
        start=start,
        end=end,
    )


def _slots(sc: Scenario) -> list[engine.Interval]:
    windows = engine.opening_windows(sc.rules, tz=PARIS, start=sc.start, end=sc.end)
    return [
        iv
        for _site, iv in engine.free_slots(
            windows,
            sc.busy,
            duration=sc.duration,
            buffer=sc.buffer,
            not_before=sc.start,
            not_after=sc.end,
        )
    ]


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_no_slot_overlaps_busy_time_including_buffer(sc: Scenario) -> None:
    for slot in _slots(sc):
        for b in sc.busy:
            assert not (slot.start < b.end and b.start < slot.end + sc.buffer), (slot, b)


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_every_slot_lies_inside_an_opening_rule_in_local_time(sc: Scenario) -> None:
    for slot in _slots(sc):
        local_start = slot.start.astimezone(PARIS)
        day = local_start.date()
        inside = False
        for r in sc.rules:
            if not r.applies_on(day):
                continue
            w_start = engine.local_to_utc(day, r.start_time, PARIS)
            w_end = engine.local_to_utc(day, r.end_time, PARIS)
            if w_start <= slot.start and slot.end <= w_end:
                inside = True
        assert inside, slot


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_slot_length_is_the_motif_duration_in_real_time(sc: Scenario) -> None:
    slots = _slots(sc)
    assert all(s.end - s.start == sc.duration for s in slots)
    assert len({s.start for s in slots}) == len(slots)


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_free_time_long_enough_gets_a_slot(sc: Scenario) -> None:
    """Completeness: with no busy time, each opening window as long as the motif offers its first slot."""
    sc = dataclasses.replace(sc, busy=[])
    starts = {s.start for s in _slots(sc)}
    windows = engine.opening_windows(sc.rules, tz=PARIS, start=sc.start, end=sc.end)
    for _site, w in windows:
        if w.start >= sc.start and w.end <= sc.end and w.end - w.start >= sc.duration + sc.buffer:
            assert w.start in starts
