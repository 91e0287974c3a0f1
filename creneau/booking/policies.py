"""Booking policies checked before a write: the visit reason's audience, age limits and questions'
answers, a patient blocked from booking online, spacing between a patient's appointments, the cap on
future appointments per account, and the patient's cancellation deadline."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping

from django.conf import settings
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from creneau.accounts.principals import acting_user
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind
from creneau.core.errors import InvalidInput, PolicyViolation
from creneau.directory.models import Site
from creneau.patients.models import Patient
from creneau.patients.selectors import online_booking_blocked
from creneau.scheduling import selectors as slots
from creneau.scheduling.models import ANSWER_MAX, Audience, Motif

from .models import Appointment, CancelledBy, Status
from .rows import _online, _serialize_account
from .selectors import is_known_patient


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
    if not answers and not _online(actor):
        return None  # the practice taking a call answered nothing: nothing to read or store
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


def _check_audience(
    actor: Actor, motif: Motif, patient: Patient, *, start: dt.datetime, site: Site, known: bool | None = None
) -> None:
    """Who may book this visit reason: its age limits, new or returning patients, a practitioner not
    taking new patients. `known`: whether the patient has already been seen by the practitioner, when
    the caller has it (else read here)."""
    if actor.kind == ActorKind.STAFF:
        return  # the practice decides on the phone
    _check_age(motif, patient, start, site)
    if known is None:
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
        patient__account=acting_user(actor), status=Status.BOOKED, start_at__gt=clock.now()
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


def audience_refusal(
    actor: Actor, motif: Motif, patient: Patient, *, start: dt.datetime, site: Site, known: bool
) -> PolicyViolation | None:
    """Read only: the refusal booking this visit reason at `start` for `patient` would meet on who may
    book it (age, new or returning patients, new patients accepted), or None. For proposals made before
    booking (FHIR `$find`), so that nothing proposed is refused at booking for these reasons."""
    try:
        _check_audience(actor, motif, patient, start=start, site=site, known=known)
    except PolicyViolation as refusal:
        return refusal
    return None
