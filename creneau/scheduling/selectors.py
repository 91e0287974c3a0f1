"""Reads of availability. Public data only: free slots reveal nothing about who booked."""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet, Value
from django.utils.translation import gettext as _

from creneau.audit.detection import refuse_if_suspended
from creneau.core import clock, providers
from creneau.core.actors import Actor, AgendaRight
from creneau.core.errors import NotFound
from creneau.core.ids import parse_id
from creneau.directory.models import Agenda, Practitioner, Site
from creneau.directory.selectors import agendas_for, require_agenda_right

from . import engine
from .models import Absence, AvailabilityIndex, Motif, MotifQuestion, OpeningRule


@dataclasses.dataclass(frozen=True, slots=True)
class Slot:
    practitioner_id: uuid.UUID
    motif_id: uuid.UUID
    site_id: uuid.UUID
    start: dt.datetime
    end: dt.datetime


def rule_specs(practitioner_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[engine.RuleSpec]]:
    """Opening rules as engine specs, per practitioner (two queries whatever the count)."""
    rules = list(OpeningRule.objects.filter(practitioner_id__in=list(practitioner_ids)).prefetch_related("motifs"))
    out: dict[uuid.UUID, list[engine.RuleSpec]] = defaultdict(list)
    for r in rules:
        out[r.practitioner_id].append(
            engine.RuleSpec(
                weekday=r.weekday,
                start_time=r.start_time,
                end_time=r.end_time,
                valid_from=r.valid_from,
                valid_until=r.valid_until,
                site_id=r.site_id,
                motif_ids=frozenset(m.pk for m in r.motifs.all()),
                agenda_id=r.agenda_id,
            )
        )
    return out


def rule_specs_for_motif(
    practitioner_id: uuid.UUID, *, motif_id: uuid.UUID, site_id: uuid.UUID, agenda_id: uuid.UUID
) -> list[engine.RuleSpec]:
    """The practitioner's opening rules at one site that admit one motif, in one query: what a
    single-slot check needs, without loading every rule's motif list as `rule_specs` does."""
    links = OpeningRule.motifs.through.objects.filter(openingrule_id=OuterRef("pk"))
    rows = (
        OpeningRule.objects.filter(practitioner_id=practitioner_id, site_id=site_id, agenda_id=agenda_id)
        .annotate(restricted=Exists(links), admits=Exists(links.filter(motif_id=motif_id)))
        .filter(Q(restricted=False) | Q(admits=True))
        .values_list("weekday", "start_time", "end_time", "valid_from", "valid_until", "restricted")
    )
    return [
        engine.RuleSpec(
            weekday=weekday,
            start_time=start_time,
            end_time=end_time,
            valid_from=valid_from,
            valid_until=valid_until,
            site_id=site_id,
            motif_ids=frozenset({motif_id}) if restricted else frozenset(),
            agenda_id=agenda_id,
        )
        for weekday, start_time, end_time, valid_from, valid_until, restricted in rows
    ]


def busy_intervals(
    practitioner_ids: Iterable[uuid.UUID],
    *,
    start: dt.datetime,
    end: dt.datetime,
    include_appointments: bool = True,
) -> dict[uuid.UUID, list[engine.Interval]]:
    """Absences and active appointments/holds overlapping [start, end), per practitioner (the
    appointments through booking's provider, CRENEAU_BUSY_TIME_PROVIDER)."""
    ids = list(practitioner_ids)
    out: dict[uuid.UUID, list[engine.Interval]] = defaultdict(list)
    for pid, a_start, a_end in Absence.objects.filter(
        practitioner_id__in=ids, start_at__lt=end, end_at__gt=start
    ).values_list("practitioner_id", "start_at", "end_at"):
        out[pid].append(engine.Interval(a_start, a_end))
    busy = providers.provider("CRENEAU_BUSY_TIME_PROVIDER") if include_appointments else None
    if busy is not None:
        rows = busy(ids, start=start, end=end).values_list("practitioner_id", "start_at", "busy_until")
        for pid, a_start, a_end in rows:
            out[pid].append(engine.Interval(a_start, a_end))
    return out


def absences_and_taken(
    practitioner_id: uuid.UUID, *, start: dt.datetime, end: dt.datetime, span: engine.Interval
) -> tuple[list[engine.Interval], bool]:
    """The practitioner's absences overlapping [start, end), and whether an active appointment or
    hold already overlaps `span`, in one round trip (a single-slot booking's obstacles)."""
    absences = Absence.objects.filter(practitioner_id=practitioner_id, start_at__lt=end, end_at__gt=start).values_list(
        "start_at", "end_at", Value(False, output_field=BooleanField())
    )
    busy = providers.provider("CRENEAU_BUSY_TIME_PROVIDER")
    rows = absences
    if busy is not None:
        taken = busy([practitioner_id], start=span.start, end=span.end).values_list(
            "start_at", "busy_until", Value(True, output_field=BooleanField())
        )
        rows = absences.union(taken, all=True)
    out: list[engine.Interval] = []
    is_taken = False
    for a_start, a_end, appointment in rows:
        if appointment:
            is_taken = True
        else:
            out.append(engine.Interval(a_start, a_end))
    return out, is_taken


def site_time_zones(site_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, zoneinfo.ZoneInfo]:
    return {
        sid: zoneinfo.ZoneInfo(tz)
        for sid, tz in Site.objects.filter(pk__in=list(site_ids)).values_list("pk", "time_zone")
    }


def compute_slots(
    *,
    motif: Motif,
    rules: Sequence[engine.RuleSpec],
    busy: Sequence[engine.Interval],
    tzs: dict[uuid.UUID, zoneinfo.ZoneInfo],
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    site_id: uuid.UUID | None = None,
    limit: int | None = None,
) -> list[Slot]:
    """Free slots of one motif in [start, end), each site's rules read in that site's time zone."""
    not_before = max(start, now + dt.timedelta(minutes=motif.min_notice_minutes))
    not_after = min(end, now + dt.timedelta(days=motif.max_horizon_days))
    if not_after <= not_before:
        return []
    rules = [r for r in rules if r.agenda_id is None or r.agenda_id == motif.agenda_id]
    if motif.site_id is not None:  # a visit reason offered at one site only
        rules = [r for r in rules if r.site_id == motif.site_id]
    windows: list[tuple[uuid.UUID | None, engine.Interval]] = []
    for sid in {r.site_id for r in rules if site_id is None or r.site_id == site_id}:
        if sid is None or sid not in tzs:
            continue
        site_rules = [r for r in rules if r.site_id == sid]
        windows += engine.opening_windows(site_rules, tz=tzs[sid], start=not_before, end=not_after, motif_id=motif.pk)
    windows.sort(key=lambda w: w[1].start)
    found = engine.free_slots(
        windows,
        busy,
        duration=dt.timedelta(minutes=motif.duration_minutes),
        buffer=dt.timedelta(minutes=motif.buffer_minutes),
        not_before=not_before,
        not_after=not_after,
    )
    slots = sorted(
        (Slot(motif.practitioner_id, motif.pk, sid, iv.start, iv.end) for sid, iv in found if sid is not None),
        key=lambda s: s.start,
    )
    return slots[:limit] if limit is not None else slots


def free_slots(
    *,
    practitioner_id: uuid.UUID,
    motif_id: uuid.UUID,
    start: dt.datetime,
    end: dt.datetime,
    site_id: uuid.UUID | None = None,
    include_appointments: bool = True,
) -> list[Slot]:
    """Free slots of a practitioner's motif in [start, end). Raises NotFound for an unknown or
    inactive motif/practitioner pair."""
    try:
        motif = Motif.objects.select_related("practitioner").get(
            pk=motif_id,
            practitioner_id=practitioner_id,
            is_active=True,
            practitioner__is_active=True,
            agenda__is_active=True,
        )
    except (Motif.DoesNotExist, ValueError) as exc:
        raise NotFound(_("Unknown visit reason.")) from exc
    rules = rule_specs([practitioner_id])[practitioner_id]
    tzs = site_time_zones({r.site_id for r in rules if r.site_id})
    busy = busy_intervals(
        [practitioner_id], start=start, end=end + dt.timedelta(hours=12), include_appointments=include_appointments
    )[practitioner_id]
    return compute_slots(
        motif=motif, rules=rules, busy=busy, tzs=tzs, start=start, end=end, now=clock.now(), site_id=site_id
    )


@dataclasses.dataclass(frozen=True, slots=True)
class NextAvailability:
    practitioner_id: uuid.UUID
    motif_id: uuid.UUID
    site_id: uuid.UUID
    starts: list[dt.datetime]

    @property
    def next_start(self) -> dt.datetime | None:
        return self.starts[0] if self.starts else None


def next_availabilities(
    *,
    practitioner_ids: Sequence[uuid.UUID],
    site_ids: Sequence[uuid.UUID] | None = None,
    new_patient: bool = True,
    per_practitioner: int = 12,
    until: dt.datetime | None = None,
    channel: str | None = None,
) -> dict[uuid.UUID, NextAvailability]:
    """Next free starts for many practitioners at once, from the maintained index: one query.

    For each practitioner, the online-bookable motif (open to the patient's audience, and of that
    channel when one is given: video consultations) whose next start is soonest. Starts already in
    the past are dropped here, so a slightly stale index never shows a
    slot that has gone by."""
    now = clock.now()
    audiences = ["all", "new"] if new_patient else ["all", "returning"]
    qs = AvailabilityIndex.objects.filter(
        practitioner_id__in=list(practitioner_ids),
        motif__audience__in=audiences,
        motif__bookable_online=True,
        motif__is_active=True,
    )
    if site_ids is not None:
        qs = qs.filter(site_id__in=list(site_ids))
    if channel is not None:
        qs = qs.filter(motif__channel=channel)
    best: dict[uuid.UUID, NextAvailability] = {}
    for pid, mid, sid, starts in qs.values_list("practitioner_id", "motif_id", "site_id", "starts"):
        candidate = NextAvailability(pid, mid, sid, _upcoming(starts, now, until, per_practitioner))
        current = best.get(pid)
        if current is None or (
            candidate.next_start is not None
            and (current.next_start is None or candidate.next_start < current.next_start)
        ):
            best[pid] = candidate
    return best


def _upcoming(starts: list[str], now: dt.datetime, until: dt.datetime | None, limit: int) -> list[dt.datetime]:
    """The first `limit` starts after `now` (and before `until`). The index keeps starts ascending, so
    the bounds are found by bisection and only the starts returned are parsed."""
    parse = dt.datetime.fromisoformat
    lo = bisect.bisect_right(starts, now, key=parse)
    hi = len(starts) if until is None else bisect.bisect_left(starts, until, lo=lo, key=parse)
    return [parse(raw) for raw in starts[lo : min(hi, lo + limit)]]


def practitioners_by_next_availability(
    *, practitioner_ids: Sequence[uuid.UUID], new_patient: bool = True
) -> list[uuid.UUID]:
    """Practitioner ids sorted by earliest availability (those with none last)."""
    nexts = next_availabilities(practitioner_ids=practitioner_ids, new_patient=new_patient, per_practitioner=1)
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(practitioner_ids, key=lambda p: (nexts[p].next_start or far) if p in nexts else far)


def index_horizon() -> dt.timedelta:
    return dt.timedelta(days=settings.CRENEAU_INDEX_DAYS)


def practitioner_or_404(practitioner_id: uuid.UUID | str) -> Practitioner:
    try:
        return Practitioner.objects.select_related("specialty").get(pk=parse_id(practitioner_id), is_active=True)
    except Practitioner.DoesNotExist as exc:
        raise NotFound(_("Unknown practitioner.")) from exc


def online_motif(motif_id: uuid.UUID | str) -> Motif:
    """An active visit reason patients may book online (public directory data: not audited)."""
    try:
        return Motif.objects.select_related("practitioner", "agenda").get(
            pk=parse_id(motif_id), is_active=True, bookable_online=True, agenda__is_active=True
        )
    except (Motif.DoesNotExist, NotFound) as exc:
        raise NotFound(_("This visit reason does not exist.")) from exc


def slot_place(
    *, practitioner_id: uuid.UUID | str, motif_id: uuid.UUID | str, site_id: uuid.UUID | str
) -> tuple[Motif, Site]:
    """The visit reason of a slot and its place: an active motif of this practitioner's active agenda, at
    a site of that agenda's organization where the practitioner works (a visit reason is booked at its
    own organization's sites only). Anything else, a malformed id included, is one "does not exist"."""
    try:
        motif = Motif.objects.select_related("practitioner__specialty", "agenda").get(
            pk=parse_id(motif_id),
            practitioner_id=parse_id(practitioner_id),
            is_active=True,
            practitioner__is_active=True,
            agenda__is_active=True,
        )
        site = Site.objects.get(
            pk=parse_id(site_id),
            practitioner_links__practitioner_id=motif.practitioner_id,
            organization_id=motif.agenda.organization_id,
        )
        if motif.site_id is not None and motif.site_id != site.pk:
            raise Site.DoesNotExist
    except (Motif.DoesNotExist, Site.DoesNotExist, NotFound) as exc:
        raise NotFound(_("This practitioner, visit reason or place does not exist.")) from exc
    return motif, site


# --- Agenda settings, for staff -------------------------------------------------------------------------


def _access_setting[T: (Motif, OpeningRule, Absence)](
    actor: Actor, qs: QuerySet[T], object_id: uuid.UUID | str, right: AgendaRight, *, missing: str, for_update: bool
) -> T:
    """One setting of an agenda the actor can see, with `right` on it. Settings of agendas the actor
    cannot see (another organization's, a colleague's without a grant) answer as a missing id."""
    refuse_if_suspended(actor)
    qs = qs.select_related("agenda", "practitioner").filter(agenda__in=agendas_for(actor, AgendaRight.VIEW))
    if for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        obj = qs.get(pk=parse_id(object_id))
    except qs.model.DoesNotExist as exc:
        raise NotFound(missing) from exc
    require_agenda_right(actor, obj.agenda, right)
    return obj


def access_motif(
    actor: Actor, motif_id: uuid.UUID | str, right: AgendaRight = AgendaRight.VIEW, *, for_update: bool = False
) -> Motif:
    return _access_setting(
        actor, Motif.objects.all(), motif_id, right, missing=_("Unknown visit reason."), for_update=for_update
    )


def access_opening_rule(
    actor: Actor, rule_id: uuid.UUID | str, right: AgendaRight = AgendaRight.VIEW, *, for_update: bool = False
) -> OpeningRule:
    return _access_setting(
        actor,
        OpeningRule.objects.select_related("site"),
        rule_id,
        right,
        missing=_("Unknown opening hours."),
        for_update=for_update,
    )


def access_absence(
    actor: Actor, absence_id: uuid.UUID | str, right: AgendaRight = AgendaRight.VIEW, *, for_update: bool = False
) -> Absence:
    return _access_setting(
        actor, Absence.objects.all(), absence_id, right, missing=_("Unknown absence."), for_update=for_update
    )


def access_motif_question(
    actor: Actor, question_id: uuid.UUID | str, right: AgendaRight = AgendaRight.VIEW
) -> MotifQuestion:
    """A question of a visit reason of an agenda the actor can see, with `right` on it (else a 404)."""
    refuse_if_suspended(actor)
    qs = MotifQuestion.objects.select_related("motif__agenda").filter(
        motif__agenda__in=agendas_for(actor, AgendaRight.VIEW)
    )
    try:
        question = qs.get(pk=parse_id(question_id))
    except (MotifQuestion.DoesNotExist, NotFound) as exc:
        raise NotFound(_("Unknown question.")) from exc
    require_agenda_right(actor, question.motif.agenda, right)
    return question


def motif_questions(motif_id: uuid.UUID) -> list[MotifQuestion]:
    """The questions asked before booking a visit reason, in order (public agenda data)."""
    return list(MotifQuestion.objects.filter(motif_id=motif_id))


def agenda_motifs(agenda: Agenda, *, active_only: bool = False) -> list[Motif]:
    qs = Motif.objects.filter(agenda=agenda)
    return list(qs.filter(is_active=True) if active_only else qs)


def agenda_rules(agenda: Agenda) -> list[OpeningRule]:
    return list(OpeningRule.objects.filter(agenda=agenda).select_related("site"))


@dataclasses.dataclass(frozen=True, slots=True)
class BusyBlock:
    """An absence as one agenda may see it: its own absences in full, the practitioner's absences
    entered by other organizations only as busy time (no label, no id)."""

    start: dt.datetime
    end: dt.datetime
    label: str
    absence_id: uuid.UUID | None


def agenda_absences(agenda: Agenda, *, start: dt.datetime, end: dt.datetime) -> list[BusyBlock]:
    rows = Absence.objects.filter(practitioner_id=agenda.practitioner_id, start_at__lt=end, end_at__gt=start)
    out = []
    for a in rows.order_by("start_at"):
        own = a.agenda_id == agenda.pk
        out.append(BusyBlock(a.start_at, a.end_at, a.label if own else "", a.pk if own else None))
    return out
