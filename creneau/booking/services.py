"""Booking writes: hold, confirm, book, cancel, reschedule, mark. Each takes the acting principal.

Double booking is impossible by construction: the database refuses any overlapping active row
(migrations/0002). The services validate everything else (opening hours, absences, notice, audience,
deadlines, rights) and translate the database's refusal into a `Conflict`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record, record_not_found
from creneau.core import clock, metrics, ratelimit
from creneau.core.actors import Actor, ActorKind, AgendaRight, Channel
from creneau.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PolicyViolation
from creneau.core.events import emit
from creneau.core.ids import parse_id
from creneau.directory.models import Site
from creneau.directory.selectors import require_agenda_right
from creneau.patients.models import Patient
from creneau.patients.selectors import access_patient, online_booking_blocked, record_patient_read
from creneau.scheduling import selectors as slots
from creneau.scheduling.engine import Interval
from creneau.scheduling.models import ANSWER_MAX, Absence, Audience, Motif
from creneau.scheduling.services import absence_create, schedule_availability_refresh, schedule_availability_taken

from . import events
from .models import Appointment, CancelledBy, Source, Status
from .selectors import access_appointment, access_hold, booked_between, is_known_patient


@dataclasses.dataclass(frozen=True)
class SlotRef:
    """What a caller asks to book."""

    practitioner_id: uuid.UUID | str
    motif_id: uuid.UUID | str
    site_id: uuid.UUID | str
    start: dt.datetime


def _online(actor: Actor) -> bool:
    """Patients and API clients book 'online': notice, horizon and online-bookable flags apply.
    Practice staff taking a call may book any free time within opening hours."""
    return actor.kind in (ActorKind.PATIENT, ActorKind.API_CLIENT)


def _source(actor: Actor) -> Source:
    if actor.kind == ActorKind.API_CLIENT or actor.channel == Channel.API:
        return Source.API
    if actor.kind == ActorKind.STAFF:
        return Source.PHONE
    return Source.WEB


def _resolve_slot(actor: Actor, ref: SlotRef, *, free: bool = False) -> tuple[Motif, Site, dt.datetime]:
    """Check that `ref` is a real slot: motif of that practitioner, a site where it works, start on the
    grid of an opening rule, outside absences, within notice and horizon. With `free`, a slot already
    taken is refused early (a `Conflict`, before any other work); the database still decides
    overlaps. Returns (motif, site, end)."""
    if ref.start.tzinfo is None:
        raise InvalidInput(_("The start time must include a time zone."))
    start = ref.start.astimezone(dt.UTC)
    motif, site = slots.slot_place(practitioner_id=ref.practitioner_id, motif_id=ref.motif_id, site_id=ref.site_id)
    if actor.kind in (ActorKind.STAFF, ActorKind.API_CLIENT):
        rights = actor.agenda_rights(organization_id=site.organization_id, practitioner_id=motif.practitioner_id)
        if AgendaRight.VIEW not in rights:
            raise NotFound(_("This practitioner, visit reason or place does not exist."))
        require_agenda_right(actor, motif.agenda, AgendaRight.BOOK)
    online = _online(actor)
    if online and not motif.bookable_online:
        raise PolicyViolation(
            _("This visit reason cannot be booked online; please call the practice."), code="offline-motif"
        )
    duration = dt.timedelta(minutes=motif.duration_minutes)
    now = clock.now()
    if start < now:
        raise PolicyViolation(_("This time has already passed."), code="past")
    if online:
        if start < now + dt.timedelta(minutes=motif.min_notice_minutes):
            raise PolicyViolation(_("This time is too soon to be booked online."), code="too-soon")
        if start > now + dt.timedelta(days=motif.max_horizon_days):
            raise PolicyViolation(_("This time is too far ahead to be booked yet."), code="too-far")
    rules = slots.rule_specs_for_motif(
        motif.practitioner_id, motif_id=motif.pk, site_id=site.pk, agenda_id=motif.agenda_id
    )
    window = (start - dt.timedelta(hours=1), start + duration + dt.timedelta(hours=1))
    if free:
        span = Interval(start, start + duration + dt.timedelta(minutes=motif.buffer_minutes))
        absences, taken = slots.absences_and_taken(motif.practitioner_id, start=window[0], end=window[1], span=span)
    else:
        busy = slots.busy_intervals([motif.practitioner_id], start=window[0], end=window[1], include_appointments=False)
        absences, taken = busy.get(motif.practitioner_id, []), False
    # Notice and horizon were checked above for online actors; the grid check ignores them.
    found = slots.compute_slots(
        motif=motif,
        rules=rules,
        busy=absences,
        tzs={site.pk: site.tz},
        start=start,
        end=start + dt.timedelta(seconds=1),
        now=start - dt.timedelta(minutes=motif.min_notice_minutes),
        site_id=site.pk,
    )
    if not any(s.start == start for s in found):
        raise PolicyViolation(_("This time is not an available slot for this visit reason."), code="not-a-slot")
    if taken:
        raise Conflict(_("Sorry, this time has just been taken. Please choose another slot."))
    return motif, site, start + duration


def _age_on(birth_date: dt.date, day: dt.date) -> int:
    """Age in whole years on `day` (a birthday on 29 February counts from 1 March in other years)."""
    years = day.year - birth_date.year
    return years - 1 if (day.month, day.day) < (birth_date.month, birth_date.day) else years


def _check_age(motif: Motif, patient: Patient, start: dt.datetime, site: Site) -> None:
    """The visit reason's age limits, for the person the appointment is for (a relative too), on the
    day of the visit in the site's time zone."""
    if motif.min_age_years is None and motif.max_age_years is None:
        return
    birth = patient.birth_date
    if birth is None:
        raise PolicyViolation(_("This visit reason has age limits: the date of birth is needed."), code="age")
    refusal = motif.age_refusal(_age_on(birth, start.astimezone(site.tz).date()))
    if refusal is not None:
        raise PolicyViolation(refusal, code="age")


def _answers(actor: Actor, motif: Motif, answers: Mapping[str, str] | None) -> str | None:
    """The answers to the visit reason's questions as stored (JSON, the question as asked), checked:
    each at most ANSWER_MAX characters; online, a required question must be answered (the practice
    taking a call may leave one for later). None when nothing was asked or answered."""
    questions = slots.motif_questions(motif.pk)
    if not questions:
        return None
    given = answers or {}
    rows = []
    for q in questions:
        text = str(given.get(str(q.pk), "") or "").strip()
        if len(text) > ANSWER_MAX:
            raise InvalidInput(_("An answer has at most %(n)d characters.") % {"n": ANSWER_MAX})
        if not text and q.required and _online(actor):
            raise InvalidInput(_("Please answer the question: %(q)s") % {"q": q.text})
        rows.append({"q": q.text, "a": text})
    if not any(r["a"] for r in rows):
        return None
    return json.dumps(rows, ensure_ascii=False)


def _check_audience(actor: Actor, motif: Motif, patient: Patient, *, start: dt.datetime, site: Site) -> None:
    if actor.kind == ActorKind.STAFF:
        return  # the practice decides on the phone
    _check_age(motif, patient, start, site)
    known = is_known_patient(patient_id=patient.pk, practitioner_id=motif.practitioner_id)
    if motif.audience == Audience.RETURNING and not known:
        raise PolicyViolation(
            _("This visit reason is reserved for patients already followed by this practitioner."), code="followed-only"
        )
    if motif.audience == Audience.NEW and known:
        raise PolicyViolation(_("This visit reason is reserved for new patients."), code="new-patients-only")
    if not known and not motif.practitioner.accepts_new_patients:
        raise PolicyViolation(_("This practitioner is not accepting new patients."), code="not-accepting")


def _check_not_blocked(actor: Actor, patient_id: uuid.UUID, organization_id: uuid.UUID) -> None:
    """A practice may stop a patient who keeps missing appointments from booking with it online
    (`patients.services.patient_booking_block`); the practice itself still books for them by phone."""
    if actor.kind == ActorKind.PATIENT and online_booking_blocked(
        patient_id=patient_id, organization_id=organization_id
    ):
        raise PolicyViolation(
            _(
                "This practice no longer accepts online bookings for this patient after missed appointments. "
                "Please call the practice to book."
            ),
            code="booking-blocked",
        )


def _idempotency_hash(actor: Actor, key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 200:
        raise InvalidInput(_("An idempotency key has 1 to 200 characters."))
    return hashlib.sha256(f"{actor.key}\x00{key}".encode()).hexdigest()


def _purge_expired_holds(practitioner_id: uuid.UUID, start: dt.datetime, busy_until: dt.datetime) -> int:
    deleted, _rows = Appointment.objects.filter(
        practitioner_id=practitioner_id,
        status=Status.HELD,
        hold_expires_at__lte=clock.now(),
        start_at__lt=busy_until,
        busy_until__gt=start,
    ).delete()
    return deleted


def _is_overlap(exc: IntegrityError) -> bool:
    return "appointment_no_overlap" in str(exc) or getattr(getattr(exc, "__cause__", None), "sqlstate", "") == "23P01"


def _audit(actor: Actor, action: str, appointment: Appointment) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="appointment",
        via="booking",
        touched=[Touched(appointment.patient_id, appointment.pk, appointment.organization_id)],
    )


def _taken(appointment: Appointment) -> bool:
    """Whether a committed active row (or unexpired hold) already overlaps this one's busy range."""
    return (
        Appointment.objects.filter(
            practitioner_id=appointment.practitioner_id,
            start_at__lt=appointment.busy_until,
            busy_until__gt=appointment.start_at,
        )
        .exclude(status=Status.CANCELLED)
        .exclude(status=Status.HELD, hold_expires_at__lte=clock.now())
        .exists()
    )


def _meets_forced(appointment: Appointment) -> bool:
    """Whether a forced appointment overlaps this row's busy range. The database's no-overlap rule
    leaves forced rows out, so the writers check them here, under the agenda's lock (PostgreSQL) or
    the write lock (SQLite): an ordinary booking never lands on a forced one."""
    return (
        Appointment.objects.filter(
            practitioner_id=appointment.practitioner_id,
            is_forced=True,
            start_at__lt=appointment.busy_until,
            busy_until__gt=appointment.start_at,
        )
        .exclude(status=Status.CANCELLED)
        .exists()
    )


# Inserts of one row: a deadlock (see `_queue_agenda_writers`) may strike the same victim repeatedly.
_ATTEMPTS = 8
# Arbitrary constant naming the agenda locks (two-key advisory locks, apart from one-key ones); the
# second key is 31 bits of the practitioner id (a collision only queues two agendas together).
_AGENDA_LOCK = 0x61676E64


def _queue_agenda_writers(practitioner_id: uuid.UUID) -> None:
    """Queue the inserts into one practitioner's agenda until commit (PostgreSQL). Unqueued, two
    uncommitted inserts of one slot wait for each other in the exclusion check, a deadlock PostgreSQL
    breaks only after `deadlock_timeout`; queued, a later taker meets the earlier one's committed
    row at once. The constraint still decides what overlaps."""
    if connection.vendor != "postgresql":
        return  # SQLite serializes writers anyway
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_AGENDA_LOCK, practitioner_id.int & 0x7FFFFFFF])


# Names the per-account locks (two-key advisory locks, like the agenda's); the second key is 31 bits of
# a hash of the principal's key.
_ACCOUNT_LOCK = 0x61636374


def _serialize_account(actor: Actor) -> None:
    """Queue this principal's limited writes (holds, future bookings) until commit, so that "count,
    then write" cannot be raced past the anti-hoarding limits by simultaneous requests. Taken before
    any agenda lock (always in that order). On SQLite, BEGIN IMMEDIATE already serializes writers."""
    if connection.vendor != "postgresql":
        return
    digest = int.from_bytes(hashlib.sha256(actor.key.encode()).digest()[:4], "big") & 0x7FFFFFFF
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ACCOUNT_LOCK, digest])


def _insert(
    actor: Actor,
    appointment: Appointment,
    *,
    also: Callable[[], object] | None = None,
    guard: Callable[[], object] | None = None,
) -> Appointment:
    """INSERT the row, then `also` (the rest of a booking), then its audit event, in one transaction;
    the database refuses overlaps. `guard` runs first in that transaction (a limit checked under the
    account's lock: its refusal rolls everything back). On refusal, expired holds in the way are purged
    and the insert retried once; a replayed idempotency key returns the first booking (and `also` is
    not run)."""
    purged = False
    for attempt in range(_ATTEMPTS):
        try:
            with transaction.atomic():
                if guard is not None:
                    guard()
                _queue_agenda_writers(appointment.practitioner_id)
                if not appointment.is_forced and _meets_forced(appointment):
                    raise Conflict(_("Sorry, this time has just been taken. Please choose another slot."))
                appointment.save(force_insert=True)
                if also is not None:
                    also()
                _audit(actor, Action.CREATE, appointment)  # a hold too: a slot taken, if only for minutes
            if purged or appointment.rescheduled_from_id is not None:
                schedule_availability_refresh(appointment.practitioner_id)  # time was also freed
            else:
                schedule_availability_taken(appointment.practitioner_id, appointment.start_at, appointment.busy_until)
            return appointment
        except OperationalError as exc:
            # Concurrent inserts checked against the same exclusion constraint can deadlock on
            # PostgreSQL; the victim retries, unless the winner's row has committed meanwhile.
            if getattr(exc.__cause__, "sqlstate", "") != "40P01" or attempt == _ATTEMPTS - 1:
                raise
            if appointment.idempotency_key and (previous := _by_key(appointment.idempotency_key)) is not None:
                return _replay(previous, appointment)
            if _taken(appointment):
                raise Conflict(_("Sorry, this time has just been taken. Please choose another slot.")) from exc
            continue
        except IntegrityError as exc:
            if appointment.idempotency_key and (previous := _by_key(appointment.idempotency_key)) is not None:
                return _replay(previous, appointment)
            if not _is_overlap(exc):
                raise
            if not purged and _purge_expired_holds(
                appointment.practitioner_id, appointment.start_at, appointment.busy_until
            ):
                purged = True
                continue
            raise Conflict(_("Sorry, this time has just been taken. Please choose another slot.")) from exc
    raise AssertionError("unreachable")


def _replay(previous: Appointment, attempted: Appointment) -> Appointment:
    same = (
        previous.practitioner_id == attempted.practitioner_id
        and previous.start_at == attempted.start_at
        and previous.patient_id == attempted.patient_id
    )
    if not same:
        raise Conflict(_("This idempotency key was already used for a different booking."))
    return previous


def _by_key(key: str) -> Appointment | None:
    return Appointment.objects.filter(idempotency_key=key).first()


def _replayed(key: str, slot: SlotRef, patient_id: uuid.UUID | str) -> Appointment | None:
    """The booking an earlier request with this idempotency key made, if any (checked to match)."""
    previous = _by_key(key)
    if previous is None:
        return None
    attempted = Appointment(
        practitioner_id=parse_id(slot.practitioner_id), start_at=slot.start, patient_id=parse_id(patient_id)
    )
    return _replay(previous, attempted)


def _new_row(
    actor: Actor, motif: Motif, site: Site, start: dt.datetime, end: dt.datetime, **extra: object
) -> Appointment:
    fields: dict[str, object] = {"source": _source(actor), **extra}
    return Appointment(
        practitioner_id=motif.practitioner_id,
        site=site,
        organization_id=site.organization_id,
        motif=motif,
        start_at=start,
        end_at=end,
        busy_until=end + dt.timedelta(minutes=motif.buffer_minutes),
        actor_key=actor.key,
        booked_by=actor.user,
        **fields,
    )


def slot_check(*, actor: Actor, slot: SlotRef) -> tuple[Motif, Site]:
    """Read only: is `slot` a real slot this actor may book now (visit reason, site, grid, absences,
    notice, horizon, not taken)? Raises exactly as `slot_hold` would and writes nothing: the booking
    start page asks before anyone signs in, so a refusal never comes after account creation."""
    motif, site, _end = _resolve_slot(actor, slot, free=True)
    return motif, site


@metrics.booking_operation("hold")
def slot_hold(*, actor: Actor, slot: SlotRef) -> Appointment:
    """Hold a slot for a few minutes while the patient signs in and fills the form."""
    ratelimit.enforce("hold-actor", actor.key)  # holds per hour: no sweeping the agenda hold by hold
    motif, site, end = _resolve_slot(actor, slot, free=True)
    now = clock.now()

    def within_hold_cap() -> None:
        """Counted under the account's lock, in the inserting transaction: simultaneous holds queue."""
        _serialize_account(actor)
        active = Appointment.objects.filter(actor_key=actor.key, status=Status.HELD, hold_expires_at__gt=now).count()
        if active >= settings.CRENEAU_MAX_ACTIVE_HOLDS:
            raise PolicyViolation(
                _("You are already holding other slots. Finish or release them first."), code="too-many-holds"
            )

    hold = _new_row(
        actor,
        motif,
        site,
        slot.start.astimezone(dt.UTC),
        end,
        status=Status.HELD,
        hold_expires_at=now + dt.timedelta(minutes=settings.CRENEAU_HOLD_MINUTES),
    )
    return _insert(actor, hold, guard=within_hold_cap)


@transaction.atomic
def hold_release(*, actor: Actor, hold_id: uuid.UUID | str) -> None:
    """Give back a slot the actor holds: the row goes (the slot is free at once) and the release is
    audited in the same transaction. A hold already confirmed, expired away or released is left alone."""
    hold = access_hold(actor, hold_id)
    if hold.status == Status.HELD and Appointment.objects.filter(pk=hold.pk, status=Status.HELD).delete()[0]:
        _audit(actor, Action.DELETE, hold)
        schedule_availability_refresh(hold.practitioner_id)


def hold_extend(*, actor: Actor, hold_id: uuid.UUID | str, until: dt.datetime) -> None:
    """Keep the actor's hold until `until` (a waiting-list offer outlives the booking form's hold), audited
    in the same transaction. A hold no longer held is left alone."""
    hold = access_hold(actor, hold_id)
    with transaction.atomic():
        if Appointment.objects.filter(pk=hold.pk, status=Status.HELD).update(
            hold_expires_at=until, updated_at=clock.now()
        ):
            _audit(actor, Action.UPDATE, hold)


@metrics.booking_operation("book")
def hold_confirm(
    *,
    actor: Actor,
    hold_id: uuid.UUID | str,
    patient_id: uuid.UUID | str,
    idempotency_key: str | None = None,
    replacing: uuid.UUID | str | None = None,
    answers: Mapping[str, str] | None = None,
) -> Appointment:
    """Turn the actor's hold into a booking for `patient_id`, with the answers to the visit reason's
    questions (question id → text). If the hold expired meanwhile, the slot is booked anyway when still
    free.

    `replacing`: an earlier appointment of the same person that the spacing rule puts in the way
    (`SpacingRefused.earlier_id`), which the patient chose to give up for this one. It is cancelled
    (`appointment_cancel`: its deadline, its audit row, its message) in the same transaction as the
    confirmation: either both happen or neither (an expired hold is then a conflict, not a new booking
    after the cancellation)."""
    hold = access_hold(actor, hold_id)
    patient = access_patient(actor, patient_id)
    if hold.status == Status.BOOKED and hold.patient_id == patient.pk:
        return hold  # the same confirmation, retried
    if hold.status != Status.HELD:
        raise Conflict(_("This hold is no longer valid."))
    _check_audience(actor, hold.motif, patient, start=hold.start_at, site=hold.site)
    stored = _answers(actor, hold.motif, answers)
    _check_not_blocked(actor, patient.pk, hold.organization_id)
    now = clock.now()
    key = _idempotency_hash(actor, idempotency_key)
    with transaction.atomic():
        _check_future_appointments_cap(actor)  # under the account's lock, with the UPDATE
        if replacing is not None:
            earlier = access_appointment(actor, replacing)
            if earlier.patient_id != patient.pk or earlier.status != Status.BOOKED:
                raise InvalidInput(_("Only a booked appointment of the same person can be replaced."))
            appointment_cancel(actor=actor, appointment_id=earlier.pk)
        _check_spacing(
            actor,
            patient_id=patient.pk,
            practitioner_id=hold.practitioner_id,
            site=hold.site,
            start=hold.start_at,
            exclude=hold.pk,
        )
        updated = Appointment.objects.filter(pk=hold.pk, status=Status.HELD, hold_expires_at__gt=now).update(
            status=Status.BOOKED,
            patient=patient,
            hold_expires_at=None,
            booked_at=now,
            idempotency_key=key,
            updated_at=now,
            answers=Appointment._meta.get_field("answers").seal_for(hold, stored),
        )
        if updated:
            hold.patient_id = patient.pk
            _audit(actor, Action.CREATE, hold)
            emit(events.APPOINTMENT_BOOKED, appointment_id=hold.pk, actor=actor)
            schedule_availability_refresh(hold.practitioner_id)
        elif replacing is not None:
            raise Conflict(_("This time was not kept for you any longer: your earlier appointment is unchanged."))
    if updated:
        hold.refresh_from_db()
        return hold
    ref = SlotRef(hold.practitioner_id, hold.motif_id, hold.site_id, hold.start_at)
    return appointment_book(
        actor=actor, slot=ref, patient_id=patient.pk, idempotency_key=idempotency_key, answers=answers
    )


@metrics.booking_operation("book")
def appointment_book(
    *,
    actor: Actor,
    slot: SlotRef,
    patient_id: uuid.UUID | str,
    idempotency_key: str | None = None,
    answers: Mapping[str, str] | None = None,
) -> Appointment:
    """Book directly (phone, API, or a patient without a hold), with the answers to the visit reason's
    questions (question id → text)."""
    key = _idempotency_hash(actor, idempotency_key)
    if key is not None and (replayed := _replayed(key, slot, patient_id)) is not None:
        return replayed
    # The slot first: a taker who lost the race stops here, before reading the patient's record.
    try:
        motif, site, end = _resolve_slot(actor, slot, free=True)
    except Conflict:
        # Taken by this very request's first attempt, perhaps, committing meanwhile.
        if key is not None and (replayed := _replayed(key, slot, patient_id)) is not None:
            return replayed
        raise
    try:
        pid = parse_id(patient_id)
    except NotFound:
        access_patient(actor, patient_id)  # records the miss and raises NotFound
        raise
    row = _new_row(
        actor,
        motif,
        site,
        slot.start.astimezone(dt.UTC),
        end,
        status=Status.BOOKED,
        patient_id=pid,
        booked_at=clock.now(),
        idempotency_key=key,
        answers=_answers(actor, motif, answers),
    )
    row.practitioner = motif.practitioner
    read: list[Patient] = []

    def then() -> None:
        """Once the row is in (a lost race stops at the INSERT): read the patient (the read audited
        in this transaction), check the audience, store the confirmation and reminders."""
        # The new row must not make its own patient visible to the actor ("known to the organization").
        patient = access_patient(actor, pid, ignoring_appointment=row.pk)
        read.append(patient)
        _check_audience(actor, motif, patient, start=row.start_at, site=site)  # past visits: not the new row
        _check_not_blocked(actor, patient.pk, site.organization_id)
        _check_spacing(
            actor,
            patient_id=patient.pk,
            practitioner_id=row.practitioner_id,
            site=site,
            start=row.start_at,
            exclude=row.pk,
        )
        row.patient = patient
        emit(events.APPOINTMENT_BOOKED, appointment_id=row.pk, actor=actor, appointment=row, fresh=True)

    try:
        # The cap is counted under the account's lock before the row, which would count itself.
        return _insert(actor, row, also=then, guard=lambda: _check_future_appointments_cap(actor))
    except NotFound:
        if not read:  # its not-found audit rolled back with the booking
            record_not_found(actor, object_type="patient", via="access_patient")
        raise
    except Exception:
        if read:  # the record was read, then the booking rolled back with the audit of that read
            record_patient_read(actor, read[-1])
        raise


class SpacingRefused(PolicyViolation):
    """The spacing rule refused a patient's booking because of an earlier appointment of the same
    person (`earlier_id`): the page says why and offers to keep that one or to replace it
    (`hold_confirm(replacing=earlier_id)`)."""

    def __init__(self, earlier_id: uuid.UUID, message: str, *, code: str) -> None:
        super().__init__(message, code=code)
        self.earlier_id = earlier_id


def _check_spacing(
    actor: Actor,
    *,
    patient_id: uuid.UUID | None,
    practitioner_id: uuid.UUID,
    site: Site,
    start: dt.datetime,
    exclude: uuid.UUID,
) -> None:
    """Anti-hoarding spacing rule, for bookings a patient account makes: one patient (or relative) has at
    most one appointment a day with a practitioner (in the site's time zone), and for the specialties of
    CRENEAU_SPACING_DAYS at least that many days between two appointments in the specialty. Called inside
    the booking's transaction, under the account's lock (a patient belongs to one account), so two
    simultaneous bookings for the same patient count in turn."""
    if actor.kind != ActorKind.PATIENT or actor.user is None or patient_id is None:
        return
    _serialize_account(actor)
    from zoneinfo import ZoneInfo

    from creneau.directory.models import Practitioner

    zone = ZoneInfo(site.time_zone)
    local = start.astimezone(zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    day_end = day_start + dt.timedelta(days=1)
    others = Appointment.objects.filter(patient_id=patient_id, status=Status.BOOKED).exclude(pk=exclude)
    same_day = (
        others.filter(
            practitioner_id=practitioner_id,
            start_at__gte=day_start.astimezone(dt.UTC),
            start_at__lt=day_end.astimezone(dt.UTC),
        )
        .order_by("start_at")
        .first()
    )
    if same_day is not None:
        raise SpacingRefused(
            same_day.pk,
            _(
                "This person already has an appointment with this practitioner that day, at %(time)s: one a day "
                "at most. Keep it, or move it from your account to another time."
            )
            % {"time": same_day.start_at.astimezone(zone).strftime("%H:%M")},
            code="same-day",
        )
    specialty = Practitioner.objects.filter(pk=practitioner_id).values_list("specialty_id", flat=True).first()
    days = settings.CRENEAU_SPACING_DAYS.get(specialty or "", 0)
    if days:
        near = (
            others.filter(
                practitioner__specialty_id=specialty,
                start_at__gt=start - dt.timedelta(days=days),
                start_at__lt=start + dt.timedelta(days=days),
            )
            .order_by("start_at")
            .first()
        )
        if near is not None:
            raise SpacingRefused(
                near.pk,
                _(
                    "This person already has an appointment in this specialty on %(date)s. Two appointments in "
                    "this specialty must be at least %(days)s days apart: keep that one, or move it from your "
                    "account."
                )
                % {
                    "date": date_format(near.start_at.astimezone(zone), "SHORT_DATE_FORMAT"),
                    "days": days,
                },
                code="spacing",
            )


def _check_future_appointments_cap(actor: Actor) -> None:
    """A patient account (with its relatives) holds at most CRENEAU_MAX_FUTURE_APPOINTMENTS future bookings.
    Called inside the booking's transaction: the account's lock makes simultaneous bookings count in turn."""
    if actor.kind != ActorKind.PATIENT or actor.user is None:
        return
    _serialize_account(actor)
    upcoming = Appointment.objects.filter(
        patient__account=actor.user, status=Status.BOOKED, start_at__gt=clock.now()
    ).count()
    if upcoming >= settings.CRENEAU_MAX_FUTURE_APPOINTMENTS:
        raise PolicyViolation(
            _("You already have %(count)s upcoming appointments. Cancel one you no longer need to book another.")
            % {"count": upcoming},
            code="future-cap",
        )


def _cancelled_by(actor: Actor) -> CancelledBy:
    if actor.kind == ActorKind.PATIENT:
        return CancelledBy.PATIENT
    if actor.kind == ActorKind.SYSTEM:
        return CancelledBy.SYSTEM
    return CancelledBy.PRACTICE


def _check_patient_deadline(actor: Actor, appointment: Appointment) -> None:
    if actor.kind != ActorKind.PATIENT:
        return
    deadline = appointment.start_at - dt.timedelta(hours=appointment.practitioner.cancellation_deadline_hours)
    if clock.now() > deadline:
        raise PolicyViolation(
            _(
                "This appointment can no longer be changed online less than %(hours)d hours before it. "
                "Please call the practice."
            )
            % {"hours": appointment.practitioner.cancellation_deadline_hours}
        )


def appointment_cancel(*, actor: Actor, appointment_id: uuid.UUID | str, erasure: bool = False) -> Appointment:
    """Cancel a booked appointment. Patients must respect the practitioner's deadline, except when
    they erase their account (`erasure`: the right to erasure does not wait; see booking.erasure);
    cancelling twice is harmless."""
    appointment = access_appointment(actor, appointment_id, right=AgendaRight.BOOK)
    if appointment.status == Status.CANCELLED:
        return appointment
    if appointment.status != Status.BOOKED:
        raise PolicyViolation(_("Only a booked appointment can be cancelled."))
    if not erasure:
        _check_patient_deadline(actor, appointment)
    now = clock.now()
    with transaction.atomic():
        updated = Appointment.objects.filter(pk=appointment.pk, status=Status.BOOKED).update(
            status=Status.CANCELLED, cancelled_at=now, cancelled_by=_cancelled_by(actor), updated_at=now
        )
        if updated:
            _audit(actor, Action.CANCEL, appointment)
            emit(events.APPOINTMENT_CANCELLED, appointment_id=appointment.pk, actor=actor)
            schedule_availability_refresh(appointment.practitioner_id)
    appointment.refresh_from_db()
    return appointment


@metrics.booking_operation("reschedule")
def appointment_reschedule(
    *, actor: Actor, appointment_id: uuid.UUID | str, new_start: dt.datetime, site_id: uuid.UUID | str | None = None
) -> Appointment:
    """Move a booking to another slot of the same practitioner and motif, atomically: if the new
    slot is taken, the original appointment is kept untouched."""
    old = access_appointment(actor, appointment_id, right=AgendaRight.BOOK)
    if old.status != Status.BOOKED:
        raise PolicyViolation(_("Only a booked appointment can be moved."), code="not-booked")
    _check_patient_deadline(actor, old)
    if old.patient_id is not None:
        _check_not_blocked(actor, old.patient_id, old.organization_id)
    ref = SlotRef(old.practitioner_id, old.motif_id, site_id or old.site_id, new_start)
    motif, site, end = _resolve_slot(actor, ref)
    now = clock.now()
    with transaction.atomic():
        if not Appointment.objects.filter(pk=old.pk, status=Status.BOOKED).update(
            status=Status.CANCELLED, cancelled_at=now, cancelled_by=_cancelled_by(actor), updated_at=now
        ):
            raise Conflict(_("This appointment changed meanwhile; please reload."))
        _audit(actor, Action.CANCEL, old)
        _check_spacing(
            actor,
            patient_id=old.patient_id,
            practitioner_id=old.practitioner_id,
            site=site,
            start=new_start.astimezone(dt.UTC),
            exclude=old.pk,
        )
        new = _new_row(
            actor,
            motif,
            site,
            new_start.astimezone(dt.UTC),
            end,
            status=Status.BOOKED,
            patient_id=old.patient_id,
            booked_at=now,
            rescheduled_from=old,
            source=old.source,
            answers=old.answers,
        )
        moved = _insert(actor, new)
        emit(events.APPOINTMENT_MOVED, old_appointment_id=old.pk, new_appointment_id=moved.pk, actor=actor)
        return moved


def appointment_mark(
    *, actor: Actor, appointment_id: uuid.UUID | str, status: str, excused: bool = False
) -> Appointment:
    """Staff record what happened: fulfilled or no-show (`excused` when the patient had a good reason),
    once the appointment has started."""
    if actor.kind not in (ActorKind.STAFF, ActorKind.SYSTEM):
        raise PermissionDenied(_("Only the practice can record this."))
    if status not in (Status.FULFILLED, Status.NO_SHOW):
        raise InvalidInput(_("An appointment can be marked fulfilled or no-show."))
    appointment = access_appointment(actor, appointment_id, right=AgendaRight.BOOK)
    if appointment.status not in (Status.BOOKED, Status.FULFILLED, Status.NO_SHOW):
        raise PolicyViolation(_("A cancelled appointment cannot be marked."))
    if appointment.start_at > clock.now():
        raise PolicyViolation(_("An appointment can be marked only once it has started."))
    with transaction.atomic():
        Appointment.objects.filter(pk=appointment.pk).update(
            status=status, no_show_excused=excused and status == Status.NO_SHOW, updated_at=clock.now()
        )
        _audit(actor, Action.UPDATE, appointment)
    appointment.refresh_from_db()
    return appointment


FORCE_REASON_MAX = 200


@metrics.booking_operation("book")
def appointment_force(*, actor: Actor, slot: SlotRef, patient_id: uuid.UUID | str, reason: str) -> Appointment:
    """Book on purpose on top of another appointment or outside opening hours (an urgent case). Staff
    with the right to manage the agenda only; the reason is required and kept in the audit trail. The
    row is marked forced: the no-overlap rule leaves it out, the slot engine still counts its time as
    taken, so patients never see it as free."""
    if actor.kind != ActorKind.STAFF:
        raise PermissionDenied(_("Only the practice can force a booking."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why this booking is forced."))
    if len(reason) > FORCE_REASON_MAX:
        raise InvalidInput(_("The reason has at most %(n)d characters.") % {"n": FORCE_REASON_MAX})
    if slot.start.tzinfo is None:
        raise InvalidInput(_("The start time must include a time zone."))
    motif, site = slots.slot_place(practitioner_id=slot.practitioner_id, motif_id=slot.motif_id, site_id=slot.site_id)
    rights = actor.agenda_rights(organization_id=site.organization_id, practitioner_id=motif.practitioner_id)
    if AgendaRight.VIEW not in rights:
        raise NotFound(_("This practitioner, visit reason or place does not exist."))
    if AgendaRight.MANAGE not in rights:
        raise PermissionDenied(_("You may not force a booking in this agenda (it needs the right to manage it)."))
    start = slot.start.astimezone(dt.UTC)
    if start < clock.now():
        raise PolicyViolation(_("This time has already passed."), code="past")
    pid = parse_id(patient_id)
    end = start + dt.timedelta(minutes=motif.duration_minutes)
    row = _new_row(
        actor,
        motif,
        site,
        start,
        end,
        status=Status.BOOKED,
        patient_id=pid,
        booked_at=clock.now(),
        is_forced=True,
        forced_reason=reason,
    )
    row.practitioner = motif.practitioner

    def then() -> None:
        patient = access_patient(actor, pid, ignoring_appointment=row.pk)
        row.patient = patient
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="appointment",
            object_id=row.pk,
            via="appointment_force",
            changes={"forced": [False, True], "reason": ["", reason]},
            touched=[Touched(row.patient_id, row.pk, row.organization_id)],
        )
        emit(events.APPOINTMENT_BOOKED, appointment_id=row.pk, actor=actor, appointment=row, fresh=True)

    return _insert(actor, row, also=then)


def absence_create_over_appointments(
    *,
    actor: Actor,
    agenda_id: uuid.UUID | str,
    start_at: dt.datetime,
    end_at: dt.datetime,
    label: str = "",
    cancel: bool,
) -> tuple[Absence, list[Appointment]]:
    """Save an absence once staff have seen the booked patients it covers: with `cancel`, each of those
    appointments is cancelled through `appointment_cancel` (the patient is told, with a link to book
    again), all in one transaction with the absence; without it they are kept, for staff to move one by
    one. Returns the absence and the appointments it covered."""
    with transaction.atomic():
        absence = absence_create(actor=actor, agenda_id=agenda_id, start_at=start_at, end_at=end_at, label=label)
        covered = booked_between(actor, absence.agenda, start=start_at, end=end_at)
        if cancel:
            for appointment in covered:
                appointment_cancel(actor=actor, appointment_id=appointment.pk)
    return absence, covered
