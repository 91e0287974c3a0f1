"""The engine on the two days a year where local time jumps (Europe/Paris, 2026)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from creneau.scheduling import engine

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def _rule(weekday: int, start: str, end: str) -> engine.RuleSpec:
    return engine.RuleSpec(weekday, dt.time.fromisoformat(start), dt.time.fromisoformat(end), dt.date(2026, 1, 1), None)


def _day_slots(day: dt.date, rule: engine.RuleSpec, minutes: int) -> list[engine.Interval]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=PARIS)
    end = start + dt.timedelta(days=1)
    windows = engine.opening_windows([rule], tz=PARIS, start=start, end=end)
    return [iv for _s, iv in engine.free_slots(windows, [], duration=dt.timedelta(minutes=minutes))]


def test_spring_forward_morning_slots_keep_their_wall_clock_times() -> None:
    # Sunday 29 March 2026: 02:00 → 03:00. A 09:00–12:00 rule still starts at 09:00 local (07:00 UTC).
    slots = _day_slots(dt.date(2026, 3, 29), _rule(6, "09:00", "12:00"), 30)
    assert [s.start.astimezone(PARIS).strftime("%H:%M") for s in slots] == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "11:30",
    ]
    assert slots[0].start == dt.datetime(2026, 3, 29, 7, 0, tzinfo=dt.UTC)


def test_spring_forward_night_rule_loses_the_missing_hour() -> None:
    # 01:00–04:00 local lasts two real hours that night: four 30-minute slots, none at 02:xx.
    slots = _day_slots(dt.date(2026, 3, 29), _rule(6, "01:00", "04:00"), 30)
    local = [s.start.astimezone(PARIS).strftime("%H:%M") for s in slots]
    assert local == ["01:00", "01:30", "03:00", "03:30"]
    assert all(s.end - s.start == dt.timedelta(minutes=30) for s in slots)


def test_fall_back_night_rule_offers_the_repeated_hour_twice() -> None:
    # Sunday 25 October 2026: 03:00 → 02:00. 01:00–04:00 local lasts four real hours.
    slots = _day_slots(dt.date(2026, 10, 25), _rule(6, "01:00", "04:00"), 60)
    local = [(s.start.astimezone(PARIS).strftime("%H:%M"), s.start.astimezone(PARIS).utcoffset()) for s in slots]
    assert local == [
        ("01:00", dt.timedelta(hours=2)),
        ("02:00", dt.timedelta(hours=2)),
        ("02:00", dt.timedelta(hours=1)),
        ("03:00", dt.timedelta(hours=1)),
    ]


def test_week_across_fall_back_keeps_local_opening_hours() -> None:
    # Monday after the change: 09:00 local is now 08:00 UTC, not 07:00.
    before = _day_slots(dt.date(2026, 10, 19), _rule(0, "09:00", "10:00"), 60)
    after = _day_slots(dt.date(2026, 10, 26), _rule(0, "09:00", "10:00"), 60)
    assert before[0].start.hour == 7 and after[0].start.hour == 8
    assert before[0].start.astimezone(PARIS).hour == after[0].start.astimezone(PARIS).hour == 9


def test_other_site_time_zone_is_respected() -> None:
    # A site in Guadeloupe (no DST): 09:00 local is 13:00 UTC all year.
    tz = zoneinfo.ZoneInfo("America/Guadeloupe")
    day = dt.date(2026, 3, 30)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    windows = engine.opening_windows([_rule(0, "09:00", "10:00")], tz=tz, start=start, end=start + dt.timedelta(days=1))
    slots = [iv for _s, iv in engine.free_slots(windows, [], duration=dt.timedelta(minutes=60))]
    assert [s.start for s in slots] == [dt.datetime(2026, 3, 30, 13, 0, tzinfo=dt.UTC)]
