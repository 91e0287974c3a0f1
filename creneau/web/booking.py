"""Patient booking flow: chosen slot → hold → sign in or sign up → for whom → confirm → .ics.

A signed-in patient's hold is placed as soon as they choose a time; someone not signed in keeps the
chosen time in their session and the hold is placed once they are signed in (holds belong to an
account)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creneau.booking.models import Appointment, Status
from creneau.booking.selectors import access_appointment, access_hold
from creneau.booking.services import SlotRef, hold_confirm, hold_release, slot_hold
from creneau.core import clock
from creneau.core.errors import Conflict, DomainError, NotFound, PolicyViolation
from creneau.core.ids import parse_id
from creneau.directory.models import Site
from creneau.patients.models import Patient, Relationship
from creneau.patients.selectors import patients_of_account
from creneau.patients.services import patient_create_for_account
from creneau.scheduling.models import Motif
from creneau.scheduling.selectors import free_slots

from . import ics
from .common import domain_errors, parse_slot_start, patient_actor
from .forms import IdentityForm, RelativeForm, WhoForm

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
    try:
        motif = Motif.objects.select_related("practitioner__specialty").get(
            pk=ref.motif_id, practitioner_id=ref.practitioner_id, is_active=True
        )
        site = Site.objects.get(pk=ref.site_id, practitioner_links__practitioner_id=ref.practitioner_id)
    except (Motif.DoesNotExist, Site.DoesNotExist) as exc:
        raise NotFound(_("This practitioner, visit reason or place does not exist.")) from exc
    return motif, site


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


@domain_errors
def book_start(request: HttpRequest) -> HttpResponse:
    """Summary of the chosen time with one button: hold it (signed in) or sign in to book it."""
    ref = _slot_from(request.GET)
    motif, site = _describe(ref)
    context = {"ref": ref, "motif": motif, "site": site, "doc": motif.practitioner, "start": ref.start}
    return render(request, "web/booking/start.html", context)


def _hold(request: HttpRequest, ref: SlotRef) -> HttpResponse:
    try:
        hold = slot_hold(actor=patient_actor(request), slot=ref)
    except (Conflict, PolicyViolation) as error:
        return taken_page(request, ref, error)
    return redirect("web:book_details", hold_id=hold.pk)


@require_POST
@domain_errors
def book_hold(request: HttpRequest) -> HttpResponse:
    ref = _slot_from(request.POST)
    _describe(ref)
    if not request.user.is_authenticated:
        request.session[PENDING_KEY] = {
            "practitioner": str(ref.practitioner_id),
            "motif": str(ref.motif_id),
            "site": str(ref.site_id),
            "start": ref.start.isoformat(),
        }
        return redirect(f"{reverse('accounts:login')}?next={reverse('web:book_resume')}")
    return _hold(request, ref)


@login_required
@domain_errors
def book_resume(request: HttpRequest) -> HttpResponse:
    """Back from sign-in or email verification: hold the time chosen before."""
    pending = request.session.pop(PENDING_KEY, None)
    if not pending:
        return redirect("web:account")
    return _hold(request, _slot_from(pending))


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
    error: DomainError | None = None
    if post is not None and who.is_valid() and (self_form is None or self_form.is_valid()):
        choice = who.cleaned_data["patient"]
        if choice != "new" or relative_form.is_valid():
            try:
                if self_form is not None:
                    me = patient_create_for_account(actor=actor, **self_form.identity())
                if choice == "new":
                    patient_id: uuid.UUID | str = patient_create_for_account(
                        actor=actor, relationship=relative_form.cleaned_data["relationship"], **relative_form.identity()
                    ).pk
                elif choice == "self" and me is not None:
                    patient_id = me.pk
                else:
                    patient_id = choice
                appointment = hold_confirm(
                    actor=actor, hold_id=hold.pk, patient_id=patient_id, idempotency_key=f"web-hold-{hold.pk}"
                )
                return redirect("web:book_done", appointment_id=appointment.pk)
            except Conflict as exc:
                ref = SlotRef(hold.practitioner_id, hold.motif_id, hold.site_id, hold.start_at)
                return taken_page(request, ref, exc)
            except DomainError as exc:
                error = exc
    context = {
        "hold": hold,
        "doc": hold.practitioner,
        "who": who,
        "self_form": self_form,
        "relative_form": relative_form,
        "error": error,
        "hold_minutes": settings.CRENEAU_HOLD_MINUTES,
    }
    return render(request, "web/booking/details.html", context, status=error.http_status if error else 200)


@require_POST
@login_required
@domain_errors
def book_release(request: HttpRequest, hold_id: str) -> HttpResponse:
    actor = patient_actor(request)
    hold = access_hold(actor, hold_id)
    hold_release(actor=actor, hold_id=hold.pk)
    return redirect("web:practitioner", practitioner_id=hold.practitioner_id)


def _own_appointment(request: HttpRequest, appointment_id: str) -> Appointment:
    return access_appointment(patient_actor(request), appointment_id)


@login_required
@domain_errors
def book_done(request: HttpRequest, appointment_id: str) -> HttpResponse:
    appointment = _own_appointment(request, appointment_id)
    return render(request, "web/booking/done.html", {"a": appointment})


@login_required
@domain_errors
def appointment_ics(request: HttpRequest, appointment_id: str) -> HttpResponse:
    """The appointment as an iCalendar file, to add to any calendar application."""
    appointment = _own_appointment(request, appointment_id)
    response = HttpResponse(ics.render_appointment(appointment), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="creneau-appointment.ics"'
    return response
