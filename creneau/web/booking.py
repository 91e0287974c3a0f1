"""Patient booking flow: chosen slot → hold → sign in or sign up → for whom → confirm → .ics.

A signed-in patient's hold is placed as soon as they choose a time; someone not signed in keeps the
chosen time in their session and the hold is placed once they are signed in (holds belong to an
account)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creneau.accounts.actors import anonymous_actor, patient_actor
from creneau.booking.models import Appointment, Status
from creneau.booking.selectors import (
    access_appointment,
    access_hold,
    own_appointment_at,
    practitioners_seen_by_account,
)
from creneau.booking.services import SlotRef, SpacingRefused, hold_confirm, hold_release, slot_check, slot_hold
from creneau.booking.video import video_link_for
from creneau.core import clock
from creneau.core.actors import Actor
from creneau.core.errors import Conflict, DomainError, NotFound, PolicyViolation
from creneau.core.ids import parse_id
from creneau.directory.models import Site
from creneau.patients.models import Patient, Relationship
from creneau.patients.selectors import patients_of_account
from creneau.patients.services import patient_create_for_account
from creneau.scheduling.models import Audience, Motif
from creneau.scheduling.selectors import free_slots, motif_questions, slot_place

from . import ics
from .common import domain_errors, parse_slot_start
from .forms import AnswersForm, IdentityForm, RelativeForm, WhoForm

PENDING_KEY = "web_pending_slot"


def _slot_from(data: Mapping[str, Any]) -> SlotRef:
    get = data.get
    return SlotRef(
        practitioner_id=parse_id(get("practitioner")),
        motif_id=parse_id(get("motif")),
        site_id=parse_id(get("site")),
        start=parse_slot_start(get("start")),
    )


def _describe(ref: SlotRef) -> tuple[Motif, Site]:
    return slot_place(practitioner_id=ref.practitioner_id, motif_id=ref.motif_id, site_id=ref.site_id)


def next_free(motif: Motif, *, after: dt.datetime | None = None, limit: int = 6) -> list[object]:
    """The next free times of a motif (for the 'this time was just taken' page)."""
    start = after or clock.now()
    found = free_slots(
        practitioner_id=motif.practitioner_id, motif_id=motif.pk, start=start, end=start + dt.timedelta(days=14)
    )
    return list(found[:limit])


def taken_page(request: HttpRequest, ref: SlotRef, error: DomainError) -> HttpResponse:
    motif, site = _describe(ref)
    context = {
        "error": error,
        "motif": motif,
        "site": site,
        "doc": motif.practitioner,
        "alternatives": next_free(motif),
    }
    return render(request, "web/booking/taken.html", context, status=error.http_status)


def _visitor(request: HttpRequest) -> Actor:
    """The patient, or someone not signed in yet (checks only: an anonymous actor writes nothing)."""
    if request.user.is_authenticated:
        return patient_actor(request)
    return anonymous_actor(request)


def _check_audience_for_account(request: HttpRequest, motif: Motif) -> None:
    """For a signed-in patient, refuse now what confirmation would refuse for everyone on the account:
    a returning-patients visit reason, or a practitioner closed to new patients, when nobody on the
    account has been seen by this practitioner."""
    if not request.user.is_authenticated:
        return
    if motif.audience != Audience.RETURNING and motif.practitioner.accepts_new_patients:
        return
    if motif.practitioner_id in practitioners_seen_by_account(patient_actor(request)):
        return
    if motif.audience == Audience.RETURNING:
        raise PolicyViolation(_("This visit reason is reserved for patients already followed by this practitioner."))
    raise PolicyViolation(_("This practitioner is not accepting new patients."))


@domain_errors
def book_start(request: HttpRequest) -> HttpResponse:
    """Summary of the chosen time with one button: hold it (signed in) or sign in to book it.

    The time is checked first (a real slot of that visit reason, on its grid, within notice and
    horizon, still free, open to this patient), so that nobody signs up for a time they cannot have."""
    ref = _slot_from(request.GET)
    motif, site = _describe(ref)
    own = _own(request, ref)
    if own is not None:
        return own
    try:
        slot_check(actor=_visitor(request), slot=ref)
    except Conflict as error:
        return taken_page(request, ref, error)
    _check_audience_for_account(request, motif)
    context = {"ref": ref, "motif": motif, "site": site, "doc": motif.practitioner, "start": ref.start}
    return render(request, "web/booking/start.html", context)


def _own(request: HttpRequest, ref: SlotRef) -> HttpResponse | None:
    """Back + Continue on a time one already holds or booked: go on with it, not "someone took it"."""
    if not request.user.is_authenticated:
        return None
    mine = own_appointment_at(patient_actor(request), practitioner_id=parse_id(ref.practitioner_id), start=ref.start)
    if mine is None:
        return None
    if mine.status == Status.HELD:
        return redirect("web:book_details", hold_id=mine.pk)
    messages.info(request, _("You have already booked this time."))
    return redirect("web:book_done", appointment_id=mine.pk)


def _hold(request: HttpRequest, ref: SlotRef) -> HttpResponse:
    own = _own(request, ref)
    if own is not None:
        return own
    try:
        hold = slot_hold(actor=patient_actor(request), slot=ref)
    except (Conflict, PolicyViolation) as error:
        return taken_page(request, ref, error)
    return redirect("web:book_details", hold_id=hold.pk)


def _slot_query(ref: SlotRef) -> str:
    """The chosen slot as query parameters (public agenda data, nothing about the patient)."""
    return urlencode(
        {
            "practitioner": str(ref.practitioner_id),
            "motif": str(ref.motif_id),
            "site": str(ref.site_id),
            "start": ref.start.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ"),
        }
    )


@require_POST
@domain_errors
def book_hold(request: HttpRequest) -> HttpResponse:
    ref = _slot_from(request.POST)
    _describe(ref)
    if not request.user.is_authenticated:
        try:
            slot_check(actor=_visitor(request), slot=ref)
        except Conflict as error:
            return taken_page(request, ref, error)
        request.session[PENDING_KEY] = {
            "practitioner": str(ref.practitioner_id),
            "motif": str(ref.motif_id),
            "site": str(ref.site_id),
            "start": ref.start.isoformat(),
        }
        # The slot also travels in the return address, so that an email verification link opened on
        # another device (another session) still brings the patient back to the time they chose.
        resume = f"{reverse('web:book_resume')}?{_slot_query(ref)}"
        return redirect(f"{reverse('accounts:login')}?{urlencode({'next': resume})}")
    return _hold(request, ref)


@login_required
@domain_errors
def book_resume(request: HttpRequest) -> HttpResponse:
    """Back from sign-in or email verification: hold the time chosen before (kept in the session,
    or in the address when the verification link was opened elsewhere)."""
    pending = request.session.pop(PENDING_KEY, None)
    if not pending and request.GET.get("start"):
        pending = request.GET
    if not pending:
        return redirect("web:account")
    ref = _slot_from(pending)
    motif, _site = _describe(ref)
    try:
        _check_audience_for_account(request, motif)
    except PolicyViolation as error:
        return taken_page(request, ref, error)
    return _hold(request, ref)


def _relative(actor: Actor, patients: list[Patient], form: RelativeForm) -> uuid.UUID:
    """The relative typed in the form: the one already on the account with that name and date of
    birth, else a new one."""
    identity = form.identity()
    fold = str.casefold
    for p in patients:
        if (
            p.relationship != Relationship.SELF
            and fold(p.given_name.strip()) == fold(identity["given_name"].strip())
            and fold(p.family_name.strip()) == fold(identity["family_name"].strip())
            and p.birth_date == identity["birth_date"]
        ):
            return p.pk
    created = patient_create_for_account(actor=actor, relationship=form.cleaned_data["relationship"], **identity)
    return created.pk


def _self_patient(patients: list[Patient]) -> Patient | None:
    return next((p for p in patients if p.relationship == Relationship.SELF), None)


@login_required
@domain_errors
def book_details(request: HttpRequest, hold_id: str) -> HttpResponse:
    """For whom, then confirm. Creates the account holder's or a relative's record when needed."""
    actor = patient_actor(request)
    hold = access_hold(actor, hold_id)
    if hold.status == Status.BOOKED:
        return redirect("web:book_done", appointment_id=hold.pk)
    if hold.status != Status.HELD:
        raise NotFound(_("This hold is no longer valid."))
    patients = patients_of_account(actor)
    me = _self_patient(patients)
    post = request.POST if request.method == "POST" else None
    self_form = IdentityForm(post, prefix="me") if me is None else None
    who = WhoForm(post, patients=patients, new_self=me is None)
    relative_form = RelativeForm(post, prefix="rel")
    answers_form = AnswersForm(post, prefix="ans", questions=motif_questions(hold.motif_id))
    error: DomainError | None = None
    earlier: Appointment | None = None
    # The patient chose to give up an earlier appointment the spacing rule put in the way.
    replacing = (post.get("replacing") or None) if post is not None else None
    answered = answers_form.is_valid() if post is not None else False
    if post is not None and answered and who.is_valid() and (self_form is None or self_form.is_valid()):
        choice = who.cleaned_data["patient"]
        if choice != "new" or relative_form.is_valid():
            try:
                # One transaction: a refused confirmation leaves no new person on the account (trying
                # again does not add the same relative twice).
                with transaction.atomic():
                    if self_form is not None:
                        me = patient_create_for_account(actor=actor, **self_form.identity())
                    if choice == "new":
                        patient_id: uuid.UUID | str = _relative(actor, patients, relative_form)
                    elif choice == "self" and me is not None:
                        patient_id = me.pk
                    else:
                        patient_id = choice
                    appointment = hold_confirm(
                        actor=actor,
                        hold_id=hold.pk,
                        patient_id=patient_id,
                        idempotency_key=f"web-hold-{hold.pk}",
                        replacing=replacing,
                        answers=answers_form.answers(),
                    )
                if replacing:
                    messages.success(request, _("Your earlier appointment is cancelled and replaced by this one."))
                return redirect("web:book_done", appointment_id=appointment.pk)
            except Conflict as exc:
                ref = SlotRef(hold.practitioner_id, hold.motif_id, hold.site_id, hold.start_at)
                return taken_page(request, ref, exc)
            except SpacingRefused as exc:
                error = exc
                earlier = access_appointment(actor, exc.earlier_id)
            except DomainError as exc:
                error = exc
    context = {
        "hold": hold,
        "doc": hold.practitioner,
        "who": who,
        "self_form": self_form,
        "relative_form": relative_form,
        "answers_form": answers_form,
        "error": error,
        "earlier": earlier,
        "hold_minutes": settings.CRENEAU_HOLD_MINUTES,
    }
    return render(request, "web/booking/details.html", context, status=error.http_status if error else 200)


@require_POST
@login_required
@domain_errors
def book_release(request: HttpRequest, hold_id: str) -> HttpResponse:
    actor = patient_actor(request)
    hold = access_hold(actor, hold_id)
    keep = request.POST.get("keep")
    kept = access_appointment(actor, keep) if keep else None  # the earlier appointment kept instead
    hold_release(actor=actor, hold_id=hold.pk)
    if kept is not None:
        messages.success(request, _("You kept your earlier appointment; the other time is free again."))
        return redirect("web:account_appointment", appointment_id=kept.pk)
    return redirect("web:practitioner", practitioner_id=hold.practitioner_id)


@login_required
@domain_errors
def book_done(request: HttpRequest, appointment_id: str) -> HttpResponse:
    actor = patient_actor(request)
    appointment = access_appointment(actor, appointment_id)
    return render(request, "web/booking/done.html", {"a": appointment, "video_url": video_link_for(actor, appointment)})


@login_required
@domain_errors
def appointment_ics(request: HttpRequest, appointment_id: str) -> HttpResponse:
    """The appointment as an iCalendar file, to add to any calendar application."""
    actor = patient_actor(request)
    appointment = access_appointment(actor, appointment_id)
    body = ics.render_appointment(appointment, video_url=video_link_for(actor, appointment))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="creneau-appointment.ics"'
    return response
