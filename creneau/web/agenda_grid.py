"""The practice's agenda as a time grid: columns (a day of one agenda), blocks placed by wall-clock time.

Blocks are positioned on 5-minute rows of the site's local time (Europe/Paris), so 09:00 sits on the
09:00 line on every day, the days when the clocks change included (a 23- or 25-hour day only changes
which instants fall on the lines). Placement is by CSS classes (row start, row span, column): the
strict CSP allows no inline style."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Iterable

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from creneau.booking.models import Status
from creneau.booking.selectors import agenda, agenda_holds
from creneau.booking.video import video_link_for
from creneau.core import clock
from creneau.core.actors import Actor, AgendaRight
from creneau.directory.models import Agenda, Site
from creneau.scheduling import engine
from creneau.scheduling.models import Motif
from creneau.scheduling.selectors import agenda_absences, free_slots, rule_specs

STEP = 5  # minutes per grid row
DEFAULT_FROM = 8 * 60
DEFAULT_TO = 19 * 60
MAX_ROWS = 24 * 60 // STEP


@dataclasses.dataclass
class Block:
    """One thing drawn in a column: kind is booked | fulfilled | no_show | forced | free | held |
    absent | busy | closed."""

    kind: str
    start: dt.datetime
    end: dt.datetime
    label: str
    time_text: str = ""
    url: str = ""
    move_url: str = ""
    stamp: str = ""
    row: int = 0
    span: int = 1
    patient: str = ""
    motif: str = ""
    status_text: str = ""
    video_url: str = ""  # a teleconsultation's room (booking.video), for the staff who see this agenda


@dataclasses.dataclass
class Column:
    """One day of one agenda."""

    index: int  # CSS grid column (the hour axis is column 1)
    day: dt.date
    agenda: Agenda
    title: str
    blocks: list[Block]
    tz: zoneinfo.ZoneInfo
    book_motif: Motif | None = None
    now_row: int = 0
    now_text: str = ""


def local_minutes(moment: dt.datetime, day: dt.date, tz: zoneinfo.ZoneInfo) -> int:
    """Minutes after local midnight of `day` on the wall clock: 0 before that day, 1440 after it."""
    local = moment.astimezone(tz)
    if local.date() < day:
        return 0
    if local.date() > day:
        return 24 * 60
    return local.hour * 60 + local.minute


def day_bounds(day: dt.date, tz: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants of local midnight of `day` and of the next day (23 or 25 hours apart on DST days)."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz).astimezone(dt.UTC)
    return start, end


def stamp_of(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")


def _hhmm(moment: dt.datetime, tz: zoneinfo.ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M")


def _complement(
    opens: list[engine.Interval], start: dt.datetime, end: dt.datetime
) -> Iterable[tuple[dt.datetime, dt.datetime]]:
    """The parts of [start, end) outside the opening windows."""
    cursor = start
    for iv in engine.merge_busy(opens):
        if iv.start > cursor:
            yield cursor, min(iv.start, end)
        cursor = max(cursor, iv.end)
    if cursor < end:
        yield cursor, end


def build_columns(
    actor: Actor,
    *,
    first_index: int,
    ag: Agenda,
    days: list[dt.date],
    tz: zoneinfo.ZoneInfo,
    sites: list[Site],
    motif: Motif | None,
    can_book: bool,
    titles: list[str],
) -> list[Column]:
    """Everything one agenda shows on consecutive local days, one column per day, as blocks not yet
    placed on rows. The reads cover the whole span once (a fixed number of queries per agenda)."""
    start, _e = day_bounds(days[0], tz)
    _s, end = day_bounds(days[-1], tz)
    doc_id = ag.practitioner_id
    site_ids = {s.pk for s in sites}
    blocks: list[Block] = []

    rules = [r for r in rule_specs([doc_id]).get(doc_id, []) if r.agenda_id in (None, ag.pk) and r.site_id in site_ids]
    opens = [iv for _sid, iv in engine.opening_windows(rules, tz=tz, start=start, end=end)]
    for c_start, c_end in _complement(opens, start, end):
        blocks.append(Block("closed", c_start, c_end, pgettext("agenda", "Closed")))

    for a in agenda(actor, practitioner_id=doc_id, start=start, end=end):
        if a.organization_id != ag.organization_id:
            blocks.append(Block("busy", a.start_at, a.end_at, _("Busy")))
            continue
        name = f"{a.patient.family_name.upper()} {a.patient.given_name}" if a.patient else ""
        kind = a.status
        if a.status == Status.BOOKED and getattr(a, "is_forced", False):
            kind = "forced"
        blocks.append(
            Block(
                kind,
                a.start_at,
                a.end_at,
                f"{name} · {a.motif.name}",
                url=reverse("web:staff_appointment", args=[a.pk]),
                move_url=reverse("web:staff_move", args=[a.pk]) if a.status == Status.BOOKED and can_book else "",
                patient=name,
                motif=a.motif.name,
                status_text=_("Forced") if kind == "forced" else a.get_status_display(),
                video_url=video_link_for(actor, a),
            )
        )
    for h_start, h_end in agenda_holds(
        actor, organization_id=ag.organization_id, practitioner_id=doc_id, start=start, end=end
    ):
        blocks.append(Block("held", h_start, h_end, _("Being booked")))
    for ab in agenda_absences(ag, start=start, end=end):
        if ab.absence_id:
            blocks.append(Block("absent", ab.start, ab.end, ab.label or _("Absence")))
        else:
            blocks.append(Block("busy", ab.start, ab.end, _("Busy")))
    if motif is not None and can_book:
        book_url = reverse("web:staff_book", args=[ag.pk])
        for slot in free_slots(practitioner_id=doc_id, motif_id=motif.pk, start=start, end=end):
            if slot.site_id in site_ids:
                blocks.append(
                    Block(
                        "free",
                        slot.start,
                        slot.end,
                        _("Free"),
                        url=f"{book_url}?motif={motif.pk}&site={slot.site_id}&start={stamp_of(slot.start)}",
                        stamp=stamp_of(slot.start),
                    )
                )
    order = {"closed": 0, "absent": 1, "busy": 1, "free": 2, "held": 3}
    blocks.sort(key=lambda b: (b.start, order.get(b.kind, 4)))
    columns = []
    for i, (day, title) in enumerate(zip(days, titles, strict=True)):
        d_start, d_end = day_bounds(day, tz)
        mine = []
        for b in blocks:
            if b.start < d_end and b.end > d_start:
                # A block crossing midnight (an absence of several days) is cut at the day's edges.
                part = dataclasses.replace(b, start=max(b.start, d_start), end=min(b.end, d_end))
                part.time_text = f"{_hhmm(part.start, tz)}–{_hhmm(part.end, tz)}"
                mine.append(part)
        columns.append(
            Column(index=first_index + i, day=day, agenda=ag, title=title, blocks=mine, tz=tz, book_motif=motif)
        )
    return columns


@dataclasses.dataclass
class Grid:
    columns: list[Column]
    first_minute: int
    rows: int
    hours: list[tuple[int, str]]  # (row, "09:00")


def place(columns: list[Column]) -> Grid:
    """Choose the visible hours (08:00–19:00, widened to whatever is open or booked) and give every
    block its rows; add the current-time line to today's columns."""
    lo, hi = DEFAULT_FROM, DEFAULT_TO
    for col in columns:
        for b in col.blocks:
            if b.kind == "closed":
                continue
            s, e = local_minutes(b.start, col.day, col.tz), local_minutes(b.end, col.day, col.tz)
            if e > s:
                lo, hi = min(lo, s), max(hi, e)
    lo = lo // 60 * 60
    hi = min(24 * 60, -(-hi // 60) * 60)
    rows = (hi - lo) // STEP
    now = clock.now()
    for col in columns:
        kept = []
        for b in col.blocks:
            s = max(lo, local_minutes(b.start, col.day, col.tz))
            e = min(hi, local_minutes(b.end, col.day, col.tz))
            if e <= s:
                continue
            b.row = (s - lo) // STEP + 2  # row 1 holds the column headings
            b.span = max(1, -(-(e - lo) // STEP) - (s - lo) // STEP)
            kept.append(b)
        col.blocks = kept
        local_now = now.astimezone(col.tz)
        minute = local_now.hour * 60 + local_now.minute
        if local_now.date() == col.day and lo <= minute < hi:
            col.now_row = (minute - lo) // STEP + 2
            col.now_text = local_now.strftime("%H:%M")
    hours = [((m - lo) // STEP + 2, f"{m // 60:02d}:00") for m in range(lo, hi, 60)]
    return Grid(columns=columns, first_minute=lo, rows=rows, hours=hours)


def parse_local(value: str, tz: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """A wall-clock time "2026-03-02T09:15" (what the grid's drag and drop sends) as a UTC instant."""
    try:
        naive = dt.datetime.strptime(value.strip(), "%Y-%m-%dT%H:%M")
    except ValueError:
        return None
    return naive.replace(tzinfo=tz).astimezone(dt.UTC)


def can(actor: Actor, right: AgendaRight, ag: Agenda) -> bool:
    return actor.can_on_agenda(right, organization_id=ag.organization_id, practitioner_id=ag.practitioner_id)
