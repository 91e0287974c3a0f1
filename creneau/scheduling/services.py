"""Writes to agendas (motifs, opening rules, absences) and maintenance of the availability index."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from creneau.audit.services import Touched, audit_record, changes_between
from creneau.core import clock
from creneau.core.actors import Actor, AgendaRight
from creneau.core.aftercommit import after_commit
from creneau.core.errors import InvalidInput
from creneau.directory.models import Agenda, Practitioner
from creneau.directory.selectors import access_agenda, access_agenda_site

from . import selectors
from .models import QUESTION_MAX, Absence, AvailabilityIndex, Motif, MotifQuestion, OpeningRule
from .versions import availability_changed


def _lock_index_of(ids: list[uuid.UUID]) -> None:
    """Serialize the writers of these practitioners' index rows (inside the caller's transaction): row
    locks on the practitioners, always taken in primary-key order so that two batches cannot deadlock.
    `FOR NO KEY UPDATE` does not conflict with the `FOR KEY SHARE` an appointment insert takes on its
    practitioner, so bookings never wait for an index update; only index writers wait for each other.
    (SQLite: every transaction already holds the database write lock, BEGIN IMMEDIATE.)"""
    list(Practitioner.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk").values_list("pk"))


def availability_refresh(*, practitioner_ids: Iterable[uuid.UUID]) -> int:
    """Recompute the next-availability index of these practitioners; returns rows written.

    Loads everything for the batch in a fixed number of queries, computes in memory, then replaces
    the practitioners' index rows. All of it under the practitioners' index lock: a concurrent
    rebuild (two bookings of one practitioner committing together) waits, then computes from data
    that includes the other's commit, instead of colliding on the unique index or writing an older
    state over a newer one."""
    ids = list(dict.fromkeys(practitioner_ids))
    if not ids:
        return 0
    with transaction.atomic():
        _lock_index_of(ids)
        return _rebuild(ids)


def availability_refresh_all() -> int:
    """Periodic job (CRENEAU_PERIODIC_JOBS): refresh every active practitioner's index, 200 at a time, so
    starts that have gone by drop out and the window moves forward; returns rows written."""
    ids = list(Practitioner.objects.filter(is_active=True).values_list("pk", flat=True))
    return sum(availability_refresh(practitioner_ids=ids[i : i + 200]) for i in range(0, len(ids), 200))


def _rebuild(ids: list[uuid.UUID]) -> int:
    now = clock.now()
    horizon_end = now + selectors.index_horizon()
    cap = settings.CRENEAU_INDEX_MAX_SLOTS
    motifs = list(
        Motif.objects.filter(
            practitioner_id__in=ids,
            is_active=True,
            practitioner__is_active=True,
            agenda__is_active=True,
        )
    )
    rules = selectors.rule_specs(ids)
    busy = selectors.busy_intervals(ids, start=now, end=horizon_end + dt.timedelta(days=1))
    tzs = selectors.site_time_zones({r.site_id for rs in rules.values() for r in rs if r.site_id})
    rows: list[AvailabilityIndex] = []
    for motif in motifs:
        prules = rules.get(motif.practitioner_id, [])
        by_site: dict[uuid.UUID, list[str]] = {
            r.site_id: []
            for r in prules
            if r.site_id is not None
            and r.offers(motif.pk, motif.agenda_id)
            and (motif.site_id is None or r.site_id == motif.site_id)
        }
        for slot in selectors.compute_slots(
            motif=motif,
            rules=prules,
            busy=busy.get(motif.practitioner_id, []),
            tzs=tzs,
            start=now,
            end=horizon_end,
            now=now,
        ):
            if len(by_site[slot.site_id]) < cap:
                by_site[slot.site_id].append(slot.start.isoformat())
        for site_id, starts in by_site.items():
            rows.append(
                AvailabilityIndex(
                    practitioner_id=motif.practitioner_id,
                    motif_id=motif.pk,
                    site_id=site_id,
                    starts=starts,
                    next_start=dt.datetime.fromisoformat(starts[0]) if starts else None,
                    computed_at=now,
                )
            )
    AvailabilityIndex.objects.filter(practitioner_id__in=ids).delete()
    AvailabilityIndex.objects.bulk_create(rows, batch_size=500)
    availability_changed(practitioner_ids=ids)
    return len(rows)


def _mark_stale(practitioner_id: uuid.UUID) -> None:
    """An index update failed after its change committed: the periodic refresh (every few minutes)
    recomputes every practitioner's rows; until then searches may offer a start that is taken (booking
    it answers a clean 409) or miss one that was freed. Bump the cached answers' versions so that at
    least no cached answer outlives the change."""
    from .versions import bump_now

    bump_now([practitioner_id])


def schedule_availability_refresh(practitioner_id: uuid.UUID) -> None:
    """Refresh the index once the current transaction commits (never for a rolled-back change); a
    failure is logged, never reported to the client whose change committed."""
    after_commit(
        "availability index refresh",
        lambda: availability_refresh(practitioner_ids=[practitioner_id]),
        lambda: _mark_stale(practitioner_id),
    )


def availability_taken(*, practitioner_id: uuid.UUID, start: dt.datetime, busy_until: dt.datetime) -> int:
    """A new booking or hold only takes time away: drop from the practitioner's index rows the starts
    whose slot ([start, start + duration + buffer), as the engine requires) meets [start, busy_until),
    instead of recomputing the agenda. Rows are locked while edited, so concurrent bookings of one
    practitioner cannot undo each other's removals. When a row runs short, recompute the practitioner's rows.
    Returns rows changed."""
    cap = settings.CRENEAU_INDEX_MAX_SLOTS
    with transaction.atomic():
        _lock_index_of([practitioner_id])
        # Even when no indexed start changes: answers computed live from the agenda change too.
        availability_changed(practitioner_ids=[practitioner_id])
        rows = list(
            AvailabilityIndex.objects.select_for_update(of=("self",))
            .select_related("motif")
            .filter(practitioner_id=practitioner_id)
            .order_by("pk")
        )
        changed: list[AvailabilityIndex] = []
        for row in rows:
            span = dt.timedelta(minutes=row.motif.duration_minutes + row.motif.buffer_minutes)
            kept = []
            for raw in row.starts:
                s = dt.datetime.fromisoformat(raw)
                if not (s < busy_until and s + span > start):
                    kept.append(raw)
            if len(kept) == len(row.starts):
                continue
            if len(kept) < cap // 2:
                break  # running short (there may be free starts past the kept ones): recompute below
            row.starts = kept
            row.next_start = dt.datetime.fromisoformat(kept[0]) if kept else None
            changed.append(row)
        else:
            AvailabilityIndex.objects.bulk_update(changed, ["starts", "next_start"])
            return len(changed)
        return _rebuild([practitioner_id])  # still under the lock


def schedule_availability_taken(practitioner_id: uuid.UUID, start: dt.datetime, busy_until: dt.datetime) -> None:
    """`availability_taken` once the current transaction commits; a failure is logged, never reported
    to the client whose booking committed."""
    after_commit(
        "availability index update",
        lambda: availability_taken(practitioner_id=practitioner_id, start=start, busy_until=busy_until),
        lambda: _mark_stale(practitioner_id),
    )


def _full_clean(obj: Any) -> None:
    try:
        obj.full_clean(exclude=["agenda", "practitioner", "site"])
    except ValidationError as exc:
        raise InvalidInput("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc


def _audit_setting(
    actor: Actor,
    *,
    action: str,
    obj: Motif | OpeningRule | Absence | MotifQuestion,
    agenda: Agenda,
    changes: dict[str, Any],
    via: str,
) -> None:
    """Who changed which setting of which agenda, from what to what, in the write's own transaction."""
    audit_record(
        actor=actor,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=obj.pk,
        changes={"agenda": str(agenda.pk), **changes} if action != "update" else changes,
        touched=[Touched(organization_id=agenda.organization_id)],
        via=via,
    )


MOTIF_FIELDS = (
    "name",
    "duration_minutes",
    "buffer_minutes",
    "audience",
    "channel",
    "min_notice_minutes",
    "max_horizon_days",
    "bookable_online",
    "is_active",
    "position",
    "shown_online",
    "category",
    "site_id",
    "instructions",
    "min_age_years",
    "max_age_years",
)
RULE_FIELDS = ("site_id", "weekday", "start_time", "end_time", "valid_from", "valid_until")
ABSENCE_FIELDS = ("start_at", "end_at", "label")


def _values(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    out = {f: getattr(obj, f) for f in fields}
    if "label" in out:
        # An absence's reason may be private to the practitioner: the trail says whether it changed.
        out["label"] = "(set)" if out["label"] else ""
    return out


def _check_fields(fields: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise InvalidInput(_("Unknown fields: %s") % ", ".join(sorted(unknown)))


def _motif_site(agenda: Agenda, fields: dict[str, Any]) -> None:
    """A visit reason offered at one site only: a site of its agenda's organization where the
    practitioner works (anything else is a 404, as for a site that does not exist)."""
    if fields.get("site_id"):
        fields["site_id"] = access_agenda_site(agenda, fields["site_id"]).pk
    elif "site_id" in fields:
        fields["site_id"] = None


def _motif_text(fields: dict[str, Any]) -> None:
    for key in ("category", "instructions"):
        if key in fields:
            fields[key] = (fields[key] or "").strip()
    # The e-mails link only to the platform itself (notifications refuse any other link).
    if "instructions" in fields and re.search(r"https?://|www\.", fields["instructions"], re.IGNORECASE):
        raise InvalidInput(_("The instructions cannot contain web links."))


@transaction.atomic
def motif_create(*, actor: Actor, agenda_id: uuid.UUID | str, **fields: Any) -> Motif:
    """Add a visit reason to an agenda the actor may manage."""
    agenda = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
    _check_fields(fields, MOTIF_FIELDS)
    _motif_site(agenda, fields)
    _motif_text(fields)
    motif = Motif(agenda=agenda, practitioner_id=agenda.practitioner_id, **fields)
    if not motif.shown_online:
        motif.bookable_online = False  # hidden from the public page: not bookable online either
    _full_clean(motif)
    motif.save()
    _audit_setting(
        actor,
        action="create",
        obj=motif,
        agenda=agenda,
        changes=changes_between({}, _values(motif, MOTIF_FIELDS)),
        via="motif_create",
    )
    schedule_availability_refresh(agenda.practitioner_id)
    return motif


@transaction.atomic
def motif_update(*, actor: Actor, motif_id: uuid.UUID | str, **fields: Any) -> Motif:
    """Change a visit reason of an agenda the actor may manage; the trail keeps the before and after."""
    motif = selectors.access_motif(actor, motif_id, AgendaRight.MANAGE, for_update=True)
    _check_fields(fields, MOTIF_FIELDS)
    _motif_site(motif.agenda, fields)
    _motif_text(fields)
    before = _values(motif, MOTIF_FIELDS)
    for k, v in fields.items():
        setattr(motif, k, v)
    if not motif.shown_online:
        motif.bookable_online = False  # hidden from the public page: not bookable online either
    _full_clean(motif)
    changes = changes_between(before, _values(motif, MOTIF_FIELDS))
    if changes:
        motif.save()
        _audit_setting(actor, action="update", obj=motif, agenda=motif.agenda, changes=changes, via="motif_update")
        schedule_availability_refresh(motif.practitioner_id)
    return motif


QUESTION_FIELDS = ("text", "required", "position")


@transaction.atomic
def motif_question_add(*, actor: Actor, motif_id: uuid.UUID | str, text: str, required: bool = True) -> MotifQuestion:
    """A question patients answer before booking this visit reason (staff who may manage the agenda)."""
    motif = selectors.access_motif(actor, motif_id, AgendaRight.MANAGE, for_update=True)
    text = (text or "").strip()
    if not text:
        raise InvalidInput(_("Write the question."))
    if len(text) > QUESTION_MAX:
        raise InvalidInput(_("A question has at most %(n)d characters.") % {"n": QUESTION_MAX})
    if motif.questions.count() >= 10:
        raise InvalidInput(_("A visit reason has at most 10 questions."))
    last = motif.questions.order_by("-position").values_list("position", flat=True).first()
    question = MotifQuestion(motif=motif, text=text, required=required, position=(last or 0) + 1)
    _full_clean(question)
    question.save()
    _audit_setting(
        actor,
        action="create",
        obj=question,
        agenda=motif.agenda,
        changes=changes_between({}, {"motif": str(motif.pk), **_values(question, QUESTION_FIELDS)}),
        via="motif_question_add",
    )
    return question


@transaction.atomic
def motif_question_delete(*, actor: Actor, question_id: uuid.UUID | str) -> None:
    """Stop asking a question (answers already given stay with their appointments)."""
    question = selectors.access_motif_question(actor, question_id, AgendaRight.MANAGE)
    _audit_setting(
        actor,
        action="delete",
        obj=question,
        agenda=question.motif.agenda,
        changes=changes_between(_values(question, QUESTION_FIELDS), {}),
        via="motif_question_delete",
    )
    question.delete()


def _check_rule(rule: OpeningRule) -> None:
    """Overlapping hours of one practitioner on the same day are refused, whichever organization
    entered them: they would offer the same time twice."""
    _full_clean(rule)
    clashing = (
        OpeningRule.objects.filter(
            practitioner_id=rule.practitioner_id,
            weekday=rule.weekday,
            start_time__lt=rule.end_time,
            end_time__gt=rule.start_time,
        )
        .exclude(pk=rule.pk)
        .exclude(valid_until__lt=rule.valid_from)
    )
    if rule.valid_until is not None:
        clashing = clashing.exclude(valid_from__gt=rule.valid_until)
    if clashing.exists():
        raise InvalidInput(_("These hours overlap other opening hours of this practitioner on the same day."))


@transaction.atomic
def opening_rule_create(
    *,
    actor: Actor,
    agenda_id: uuid.UUID | str,
    site_id: uuid.UUID | str,
    weekday: int,
    start_time: dt.time,
    end_time: dt.time,
    valid_from: dt.date,
    valid_until: dt.date | None = None,
    motif_ids: Iterable[uuid.UUID | str] = (),
) -> OpeningRule:
    """Weekly hours of an agenda at one of its organization's sites where the practitioner works."""
    agenda = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
    site = access_agenda_site(agenda, site_id)
    rule = OpeningRule(
        agenda=agenda,
        practitioner_id=agenda.practitioner_id,
        site=site,
        weekday=weekday,
        start_time=start_time,
        end_time=end_time,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    _check_rule(rule)
    motifs = [selectors.access_motif(actor, m, AgendaRight.MANAGE) for m in motif_ids]
    if any(m.agenda_id != agenda.pk for m in motifs):
        raise InvalidInput(_("A visit reason of another agenda cannot be attached to these hours."))
    rule.save()
    rule.motifs.set(motifs)
    values = _values(rule, RULE_FIELDS) | {"motifs": sorted(str(m.pk) for m in motifs)}
    _audit_setting(
        actor,
        action="create",
        obj=rule,
        agenda=agenda,
        changes=changes_between({}, values),
        via="opening_rule_create",
    )
    schedule_availability_refresh(agenda.practitioner_id)
    return rule


@transaction.atomic
def opening_rule_update(*, actor: Actor, rule_id: uuid.UUID | str, **fields: Any) -> OpeningRule:
    """Change the day, hours, period or site of opening hours the actor may manage."""
    rule = selectors.access_opening_rule(actor, rule_id, AgendaRight.MANAGE, for_update=True)
    _check_fields(fields, RULE_FIELDS)
    before = _values(rule, RULE_FIELDS)
    if "site_id" in fields:
        rule.site = access_agenda_site(rule.agenda, fields.pop("site_id"))
    for k, v in fields.items():
        setattr(rule, k, v)
    _check_rule(rule)
    changes = changes_between(before, _values(rule, RULE_FIELDS))
    if changes:
        rule.save()
        _audit_setting(actor, action="update", obj=rule, agenda=rule.agenda, changes=changes, via="opening_rule_update")
        schedule_availability_refresh(rule.practitioner_id)
    return rule


@transaction.atomic
def opening_rule_delete(*, actor: Actor, rule_id: uuid.UUID | str) -> None:
    """Remove opening hours of an agenda the actor may manage."""
    rule = selectors.access_opening_rule(actor, rule_id, AgendaRight.MANAGE, for_update=True)
    values = _values(rule, RULE_FIELDS)
    _audit_setting(
        actor,
        action="delete",
        obj=rule,
        agenda=rule.agenda,
        changes=changes_between(values, {}),
        via="opening_rule_delete",
    )
    rule.delete()
    schedule_availability_refresh(rule.practitioner_id)


def _check_absence(absence: Absence) -> None:
    if absence.end_at <= absence.start_at:
        raise InvalidInput(_("An absence must end after it starts."))
    _full_clean(absence)


@transaction.atomic
def absence_create(
    *, actor: Actor, agenda_id: uuid.UUID | str, start_at: dt.datetime, end_at: dt.datetime, label: str = ""
) -> Absence:
    """Block a period of the practitioner (in every organization). Existing appointments in it are kept:
    the practice decides whom to move."""
    agenda = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
    absence = Absence(
        agenda=agenda, practitioner_id=agenda.practitioner_id, start_at=start_at, end_at=end_at, label=label
    )
    _check_absence(absence)
    absence.save()
    _audit_setting(
        actor,
        action="create",
        obj=absence,
        agenda=agenda,
        changes=changes_between({}, _values(absence, ABSENCE_FIELDS)),
        via="absence_create",
    )
    schedule_availability_refresh(agenda.practitioner_id)
    return absence


@transaction.atomic
def absence_update(*, actor: Actor, absence_id: uuid.UUID | str, **fields: Any) -> Absence:
    """Change the period or label of an absence entered in an agenda the actor may manage."""
    absence = selectors.access_absence(actor, absence_id, AgendaRight.MANAGE, for_update=True)
    _check_fields(fields, ABSENCE_FIELDS)
    before = _values(absence, ABSENCE_FIELDS)
    for k, v in fields.items():
        setattr(absence, k, v)
    _check_absence(absence)
    changes = changes_between(before, _values(absence, ABSENCE_FIELDS))
    if changes:
        absence.save()
        _audit_setting(
            actor, action="update", obj=absence, agenda=absence.agenda, changes=changes, via="absence_update"
        )
        schedule_availability_refresh(absence.practitioner_id)
    return absence


@transaction.atomic
def absence_delete(*, actor: Actor, absence_id: uuid.UUID | str) -> None:
    """Remove an absence entered in an agenda the actor may manage."""
    absence = selectors.access_absence(actor, absence_id, AgendaRight.MANAGE, for_update=True)
    _audit_setting(
        actor,
        action="delete",
        obj=absence,
        agenda=absence.agenda,
        changes=changes_between(_values(absence, ABSENCE_FIELDS), {}),
        via="absence_delete",
    )
    absence.delete()
    schedule_availability_refresh(absence.practitioner_id)
