"""My account: appointments (cancel, move), relatives, profile."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creneau.accounts.actors import patient_actor
from creneau.booking.models import Appointment, Status
from creneau.booking.selectors import access_appointment, account_appointments
from creneau.booking.services import appointment_cancel, appointment_reschedule
from creneau.booking.video import video_link_for
from creneau.core import clock
from creneau.core.actors import Actor
from creneau.core.errors import DomainError, PolicyViolation
from creneau.notifications.services import reminders_off_for, reminders_switch
from creneau.patients.models import Patient, Relationship
from creneau.patients.phones import display_phone
from creneau.patients.selectors import patients_of_account
from creneau.patients.services import (
    patient_create_for_account,
    patient_phone_code_send,
    patient_phone_confirm,
    patient_update,
)

from .common import domain_errors, monday_of, parse_day, parse_slot_start
from .forms import IdentityForm, PhoneCodeForm, RelativeForm
from .views import week_calendar


@login_required
def account(request: HttpRequest) -> HttpResponse:
    actor = patient_actor(request)
    if request.method == "POST" and request.POST.get("action") == "reminders":
        # A person on the account asks for no reminders (or for them again): notifications' switch.
        reminders_switch(actor=actor, patient_id=request.POST.get("patient", ""), enabled=request.POST.get("on") == "1")
        messages.success(request, _("Saved."))
        return redirect("web:account")
    upcoming = account_appointments(actor, upcoming=True)
    past = account_appointments(actor, upcoming=False)[:20]
    people = patients_of_account(actor)
    # A move cancels the old row and books a new one pointing back at it: the old one is "moved",
    # not "cancelled", and the new one says where it came from.
    by_id = {a.pk: a for a in (*upcoming, *past)}
    moved_ids = {a.rescheduled_from_id for a in by_id.values() if a.rescheduled_from_id}
    for a in by_id.values():
        a.moved_from = by_id.get(a.rescheduled_from_id) if a.rescheduled_from_id else None  # type: ignore[attr-defined]
    for a in upcoming:
        a.video_url = video_link_for(actor, a)  # type: ignore[attr-defined]
    context = {
        "upcoming": [a for a in upcoming if a.status != Status.CANCELLED],
        "cancelled": [a for a in upcoming if a.status == Status.CANCELLED and a.pk not in moved_ids],
        "past": [a for a in past if a.pk not in moved_ids],
        "moved_ids": moved_ids,
        "people": people,
        "reminders_off": reminders_off_for(patient_ids=[p.pk for p in people]),
        "me": next((p for p in people if p.relationship == Relationship.SELF), None),
    }
    return render(request, "web/account/home.html", context)


def _can_change(a: object) -> bool:
    deadline = a.start_at - dt.timedelta(hours=a.practitioner.cancellation_deadline_hours)  # type: ignore[attr-defined]
    return bool(a.status == Status.BOOKED and clock.now() <= deadline)  # type: ignore[attr-defined]


def _earliest_new_time(a: Appointment) -> dt.datetime:
    """A move may not land inside the cancellation deadline: the new appointment could then no
    longer be changed online, so the calendar does not offer those times."""
    return clock.now() + dt.timedelta(hours=a.practitioner.cancellation_deadline_hours)


def _too_soon(a: Appointment) -> PolicyViolation:
    return PolicyViolation(
        _(
            "Choose a time at least %(h)s hours from now: closer than that, the new appointment could no "
            "longer be changed online."
        )
        % {"h": a.practitioner.cancellation_deadline_hours}
    )


@login_required
@domain_errors
def appointment_detail(request: HttpRequest, appointment_id: str) -> HttpResponse:
    actor = patient_actor(request)
    a = access_appointment(actor, appointment_id)
    context = {"a": a, "can_change": _can_change(a), "video_url": video_link_for(actor, a)}
    return render(request, "web/account/appointment.html", context)


@require_POST
@login_required
@domain_errors
def appointment_cancel_view(request: HttpRequest, appointment_id: str) -> HttpResponse:
    actor = patient_actor(request)
    try:
        appointment_cancel(actor=actor, appointment_id=appointment_id)
    except DomainError as error:
        a = access_appointment(actor, appointment_id)
        return render(
            request,
            "web/account/appointment.html",
            {"a": a, "can_change": False, "error": error},
            status=error.http_status,
        )
    messages.success(request, _("Your appointment is cancelled."))
    return redirect("web:account")


@login_required
@domain_errors
def appointment_move(request: HttpRequest, appointment_id: str) -> HttpResponse:
    """Pick another time of the same practitioner and visit reason; the move is atomic."""
    actor = patient_actor(request)
    a = access_appointment(actor, appointment_id)
    error: DomainError | None = None
    if request.method == "POST":
        try:
            new_start = parse_slot_start(request.POST.get("start"))
            if new_start < _earliest_new_time(a):
                raise _too_soon(a)
            new = appointment_reschedule(actor=actor, appointment_id=a.pk, new_start=new_start)
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, _("Your appointment is moved."))
            return redirect("web:account_appointment", appointment_id=new.pk)
    elif request.GET.get("start") and _can_change(a):
        # A time picked in the calendar: ask for confirmation.
        start = parse_slot_start(request.GET["start"])
        if start < _earliest_new_time(a):
            error = _too_soon(a)
        else:
            return render(request, "web/account/move_confirm.html", {"a": a, "start": start})
    tz = a.site.tz
    today = clock.now().astimezone(tz).date()
    monday = max(monday_of(parse_day(request.GET.get("week"), today)), monday_of(today))
    calendar = week_calendar(practitioner_id=a.practitioner_id, motif=a.motif, monday=monday, tz=tz)
    earliest = _earliest_new_time(a)
    calendar = [(day, [s for s in slots if s.start >= earliest]) for day, slots in calendar]  # type: ignore[attr-defined]
    context = {
        "a": a,
        "calendar": calendar,
        "tz": tz,
        "monday": monday,
        "prev_week": monday - dt.timedelta(days=7) if monday > monday_of(today) else None,
        "next_week": monday + dt.timedelta(days=7),
        "error": error,
        "can_change": _can_change(a),
    }
    return render(request, "web/account/move.html", context, status=error.http_status if error else 200)


@login_required
@domain_errors
def relative_add(request: HttpRequest) -> HttpResponse:
    actor = patient_actor(request)
    form = RelativeForm(request.POST or None)
    error: DomainError | None = None
    if request.method == "POST" and form.is_valid():
        try:
            patient_create_for_account(actor=actor, relationship=form.cleaned_data["relationship"], **form.identity())
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, _("Relative added."))
            return redirect("web:account")
    status = error.http_status if error else (400 if request.method == "POST" else 200)
    return render(request, "web/account/relative.html", {"form": form, "error": error}, status=status)


@login_required
@domain_errors
def profile(request: HttpRequest) -> HttpResponse:
    """The account holder's own details (created here if they have none yet)."""
    actor = patient_actor(request)
    me = next((p for p in patients_of_account(actor) if p.relationship == Relationship.SELF), None)
    initial = {k: getattr(me, k) for k in ("given_name", "family_name", "birth_date", "sex", "phone")} if me else None
    form = IdentityForm(request.POST or None, initial=initial)
    error: DomainError | None = None
    if request.method == "POST" and form.is_valid():
        try:
            if me is None:
                patient_create_for_account(actor=actor, **form.identity())
            else:
                patient_update(actor=actor, patient_id=me.pk, **form.identity())
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, _("Your details are saved."))
            saved = _me(actor)
            if saved is not None and saved.phone and saved.phone_verified_at is None:
                return redirect("web:phone_verify")
            return redirect("web:account")
    status = error.http_status if error else (400 if request.method == "POST" else 200)
    return render(request, "web/account/profile.html", {"form": form, "error": error, "me": me}, status=status)


def _me(actor: Actor) -> Patient | None:
    return next((p for p in patients_of_account(actor) if p.relationship == Relationship.SELF), None)


@login_required
@domain_errors
def phone_verify(request: HttpRequest) -> HttpResponse:
    """Confirm one's mobile number with a 6-digit code sent to it by SMS (reminders go only to a
    confirmed number)."""
    actor = patient_actor(request)
    me = _me(actor)
    if me is None or not me.phone:
        messages.info(request, _("Add a mobile phone number first."))
        return redirect("web:profile")
    form = PhoneCodeForm(request.POST if request.POST.get("action") == "confirm" else None)
    error: DomainError | None = None
    sent = False
    if request.method == "POST":
        try:
            if request.POST.get("action") == "send":
                patient_phone_code_send(actor=actor, patient_id=me.pk)
                sent = True
            elif form.is_valid():
                patient_phone_confirm(actor=actor, patient_id=me.pk, code=form.cleaned_data["code"])
                messages.success(request, _("Your phone number is confirmed."))
                return redirect("web:account")
        except DomainError as exc:
            error = exc
    status = (
        error.http_status if error else (400 if request.method == "POST" and not sent and not form.is_valid() else 200)
    )
    context = {"me": me, "phone": display_phone(me.phone), "form": form, "error": error, "sent": sent}
    return render(request, "web/account/phone.html", context, status=status)
