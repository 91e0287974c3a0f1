"""How one appointment row enters booking's table, shared by every booking use case: the slot's
resolution, idempotency keys, the per-account and per-agenda locks, the insert that turns the
database's overlap refusal into a `Conflict`, and the audit row of each write."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Sequence

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils.translation import gettext as _

from creneau.accounts.principals import acting_user
from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind, AgendaRight, Channel
from creneau.core.errors import Conflict, InvalidInput, NotFound, PolicyViolation
from creneau.core.ids import parse_id
from creneau.directory.models import Site
from creneau.directory.selectors import require_agenda_right
from creneau.scheduling import selectors as slots
from creneau.scheduling.engine import Interval
from creneau.scheduling.models import Motif
from creneau.scheduling.services import schedule_availability_refresh, schedule_availability_taken

from .models import Appointment, AppointmentIdentifier, Source, Status


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
        booked_by=acting_user(actor),
        **fields,
    )


def add_identifiers(appointment: Appointment, identifiers: Sequence[tuple[str, str]]) -> None:
    """Store a partner's identifiers of a new appointment, inside its booking transaction."""
    for system, value in identifiers:
        taken = AppointmentIdentifier.objects.filter(
            organization_id=appointment.organization_id, system=system, value=value
        ).exists()
        if taken:
            raise Conflict(_("This identifier already names another appointment."), code="identifier-taken")
        try:
            with transaction.atomic():
                AppointmentIdentifier.objects.create(
                    appointment=appointment, organization_id=appointment.organization_id, system=system, value=value
                )
        except IntegrityError as exc:  # the same identifier booked at the same moment
            raise Conflict(_("This identifier already names another appointment."), code="identifier-taken") from exc


def move_identifiers(old: Appointment, new: Appointment) -> None:
    """A moved appointment keeps its partners' identifiers: they name the new row."""
    AppointmentIdentifier.objects.filter(appointment=old).update(appointment=new, updated_at=clock.now())
