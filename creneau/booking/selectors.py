"""Scoped reads of appointments: the ownership check lives here, once, for every kind of appointment
whatever wrote it (web, phone, API): the check the 2020 breach was missing."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Q
from django.utils.translation import gettext as _

from creneau.accounts.principals import acting_user
from creneau.audit.detection import refuse_if_suspended
from creneau.audit.services import record_not_found
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind, AgendaRight
from creneau.core.errors import NotFound
from creneau.core.ids import parse_id
from creneau.directory.models import Agenda
from creneau.directory.selectors import require_agenda_right

from .models import Appointment, Status
from .querysets import AppointmentQuerySet


def appointments_visible_to(actor: Actor) -> AppointmentQuerySet:
    """Patients see the appointments of the people on their account; API clients those of the
    organizations that granted them; staff those of the agendas they may see (their own organizations,
    and there their own agenda or the ones granted); holds are nobody's appointment but their holder's."""
    refuse_if_suspended(actor)
    qs = Appointment.objects.select_related("practitioner__specialty", "site", "motif", "patient").audited(
        actor, via="appointments_visible_to"
    )
    if actor.kind == ActorKind.SYSTEM:
        return qs
    if actor.kind == ActorKind.PATIENT:
        if actor.user is None:
            return qs.none()
        return qs.filter(patient__account=actor.user)
    if actor.kind == ActorKind.STAFF:
        return qs.filter(staff_agenda_filter(actor)).exclude(status=Status.HELD)
    return qs.filter(organization_id__in=list(actor.organization_ids)).exclude(status=Status.HELD)


def staff_agenda_filter(actor: Actor, right: AgendaRight = AgendaRight.VIEW) -> Q:
    """Rows of the agendas on which a staff actor holds `right`: one (organization, practitioners) term
    per organization."""
    by_org: dict[uuid.UUID, list[uuid.UUID]] = {}
    for scope in actor.agendas_with(right):
        by_org.setdefault(scope.organization_id, []).append(scope.practitioner_id)
    q = Q(pk__in=[])
    for org, practitioners in sorted(by_org.items()):
        q |= Q(organization_id=org, practitioner_id__in=sorted(practitioners))
    return q


def access_appointment(
    actor: Actor, appointment_id: uuid.UUID | str, *, for_update: bool = False, right: AgendaRight | None = None
) -> Appointment:
    """One appointment the actor may see; for staff, with `right` on its agenda (403 naming it otherwise)."""
    qs = appointments_visible_to(actor).audited(actor, action="read", via="access_appointment")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        appointment = qs.get(pk=parse_id(appointment_id))
    except (Appointment.DoesNotExist, NotFound) as exc:
        record_not_found(actor, object_type="appointment", via="access_appointment")
        raise NotFound(_("Unknown appointment.")) from exc
    if right is not None and actor.kind == ActorKind.STAFF:
        require_agenda_right(actor, appointment_agenda(appointment), right)
    return appointment


def appointment_agenda(appointment: Appointment) -> Agenda:
    """The agenda an appointment belongs to (its organization and practitioner)."""
    return Agenda(organization_id=appointment.organization_id, practitioner_id=appointment.practitioner_id)


def access_hold(actor: Actor, hold_id: uuid.UUID | str) -> Appointment:
    """A hold, only for the principal that placed it."""
    try:
        return Appointment.objects.select_related("motif", "practitioner", "site").get(
            pk=parse_id(hold_id), actor_key=actor.key
        )
    except Appointment.DoesNotExist as exc:
        raise NotFound(_("Unknown hold.")) from exc


def account_appointments(actor: Actor, *, upcoming: bool) -> list[Appointment]:
    """A patient account's appointments (its holder and relatives), upcoming ascending or past descending."""
    now = clock.now()
    qs = appointments_visible_to(actor).exclude(status=Status.HELD)
    if upcoming:
        return list(qs.filter(end_at__gt=now).order_by("start_at"))
    return list(qs.filter(end_at__lte=now).order_by("-start_at"))


def agenda(actor: Actor, *, practitioner_id: uuid.UUID, start: dt.datetime, end: dt.datetime) -> list[Appointment]:
    """A practitioner's appointments in [start, end) within the actor's organizations."""
    return list(
        appointments_visible_to(actor)
        .filter(practitioner_id=practitioner_id, start_at__lt=end, end_at__gt=start)
        .exclude(status=Status.CANCELLED)
        .order_by("start_at")
    )


def is_known_patient(*, patient_id: uuid.UUID, practitioner_id: uuid.UUID) -> bool:
    """Has this patient already been seen by this practitioner (a past visit that was not cancelled
    nor missed)? Decides 'new patient' rules."""
    return Appointment.objects.filter(
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        status__in=[Status.BOOKED, Status.FULFILLED],
        start_at__lt=clock.now(),
    ).exists()


def practitioners_seen_by_account(actor: Actor) -> set[uuid.UUID]:
    """Practitioners who have already seen someone on this patient account (a past visit neither
    cancelled nor missed): for them, search offers the returning-patient visit reasons.

    Scoped to the actor's own account and projecting practitioner ids only (directory data, nothing
    about a patient), so it is not an audited read."""
    if actor.kind != ActorKind.PATIENT or actor.user is None:
        return set()
    rows = (
        Appointment.objects.filter(
            patient__account=acting_user(actor), status__in=[Status.BOOKED, Status.FULFILLED], start_at__lt=clock.now()
        )
        .values_list("practitioner_id", flat=True)
        .distinct()
    )
    return set(rows)


def own_appointment_at(actor: Actor, *, practitioner_id: uuid.UUID, start: dt.datetime) -> Appointment | None:
    """The actor's own hold (still valid) or booking at this practitioner and time, if any: going back
    and choosing the same time again is not "someone else took it"."""
    if actor.kind != ActorKind.PATIENT or actor.user is None:
        return None
    held = Appointment.objects.filter(
        actor_key=actor.key,
        status=Status.HELD,
        hold_expires_at__gt=clock.now(),
        practitioner_id=practitioner_id,
        start_at=start,
    ).first()
    if held is not None:
        return held
    return (
        appointments_visible_to(actor)
        .filter(practitioner_id=practitioner_id, start_at=start, status=Status.BOOKED)
        .first()
    )


def agenda_holds(
    actor: Actor, *, organization_id: uuid.UUID, practitioner_id: uuid.UUID, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Times of one agenda held by someone finishing a booking, for staff who may see that agenda:
    bare intervals (no patient, no holder), so the grid can draw them as neither free nor booked."""
    refuse_if_suspended(actor)
    if not actor.can_on_agenda(AgendaRight.VIEW, organization_id=organization_id, practitioner_id=practitioner_id):
        return []
    rows = Appointment.objects.filter(
        organization_id=organization_id,
        practitioner_id=practitioner_id,
        status=Status.HELD,
        hold_expires_at__gt=clock.now(),
        start_at__lt=end,
        end_at__gt=start,
    ).values_list("start_at", "end_at")
    return list(rows)


def booked_between(actor: Actor, agenda: Agenda, *, start: dt.datetime, end: dt.datetime) -> list[Appointment]:
    """The booked appointments of one agenda overlapping [start, end), for staff who may see it (an
    audited read: it names the patients). What an absence about to be saved would leave stranded."""
    return list(
        appointments_visible_to(actor)
        .filter(
            organization_id=agenda.organization_id,
            practitioner_id=agenda.practitioner_id,
            status=Status.BOOKED,
            start_at__lt=end,
            end_at__gt=start,
        )
        .order_by("start_at")
    )


def patient_history(actor: Actor, *, patient_id: uuid.UUID) -> list[Appointment]:
    """One patient's appointments in the agendas the actor may see, newest first (holds left out)."""
    return list(
        appointments_visible_to(actor).filter(patient_id=patient_id).exclude(status=Status.HELD).order_by("-start_at")
    )
