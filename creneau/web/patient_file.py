"""The practice's patient files: find a patient known to the organization (any part of the name,
phone, birth date), then their page: upcoming and past appointments, missed ones (excused or not),
the organization's own notes, and blocking online booking for a patient who keeps missing visits.

Every read goes through the patients selectors (audited, scoped to the user's organizations); a
patient of another organization is a 404 exactly like a made-up id. Writes are the patients services."""

from __future__ import annotations

import uuid
import zoneinfo
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from creneau.accounts.actors import staff_actor
from creneau.booking.models import Status
from creneau.booking.selectors import patient_history
from creneau.core import clock
from creneau.core.actors import Actor
from creneau.core.errors import DomainError, InvalidInput, NotFound
from creneau.core.ids import parse_id
from creneau.directory.models import Organization
from creneau.patients.models import NOTE_MAX_LENGTH
from creneau.patients.selectors import (
    access_patient,
    active_booking_blocks,
    patient_notes,
    patient_search_for_organization,
)
from creneau.patients.services import (
    may_block_online_booking,
    patient_booking_block,
    patient_booking_unblock,
    patient_note_add,
)

from .common import domain_errors
from .forms import StaffPatientSearchForm

SEARCH_LIMIT = 20


class NoteForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("New note"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Seen only by your practice's team."),
    )


@login_required
@domain_errors
def patient_search(request: HttpRequest) -> HttpResponse:
    """Search the patients known to the user's organizations. The criteria are personal data, so the
    form is a POST: they never reach a URL, a log line or the browser history."""
    actor = staff_actor(request)
    posted = request.method == "POST"
    form = StaffPatientSearchForm(request.POST if posted else None)
    found: list[Any] | None = None
    error: DomainError | None = None
    status = 200
    if posted:
        if form.is_valid():
            try:
                found = patient_search_for_organization(
                    actor,
                    name=form.cleaned_data["name"],
                    birth_date=form.cleaned_data["birth_date"],
                    phone=form.cleaned_data["phone"],
                    limit=SEARCH_LIMIT + 1,
                )
            except DomainError as exc:
                error, status = exc, exc.http_status
        else:
            status = 400
    more = found is not None and len(found) > SEARCH_LIMIT
    context = {"form": form, "found": found[:SEARCH_LIMIT] if found else found, "more": more, "error": error}
    return render(request, "web/staff/patients.html", context, status=status)


def _organization_of(actor: Actor, raw: str | None) -> uuid.UUID:
    """The organization a note or block is for: the one chosen, or the user's only one."""
    if raw:
        org = parse_id(raw)
        if org not in actor.organization_ids:
            raise NotFound(_("Unknown patient."))
        return org
    if len(actor.organization_ids) == 1:
        (org,) = actor.organization_ids
        return org
    raise InvalidInput(_("Choose the practice."))


def _apply(request: HttpRequest, actor: Actor, patient_id: uuid.UUID, note_form: NoteForm) -> str:
    """One write of the page; returns the confirmation to show."""
    action = request.POST.get("action", "")
    org = _organization_of(actor, request.POST.get("organization"))
    if action == "note":
        if not note_form.is_valid():
            raise InvalidInput(_("Write the note first (at most %(n)d characters).") % {"n": NOTE_MAX_LENGTH})
        patient_note_add(actor=actor, patient_id=patient_id, organization_id=org, text=note_form.cleaned_data["text"])
        return _("Note saved.")
    if action == "block":
        if request.POST.get("confirm") != "yes":
            raise InvalidInput(_("Tick the box to confirm that online booking is blocked for this patient."))
        patient_booking_block(
            actor=actor, patient_id=patient_id, organization_id=org, reason=request.POST.get("reason", "")
        )
        return _("Online booking is blocked for this patient. They have been told by message.")
    if action == "unblock":
        patient_booking_unblock(actor=actor, patient_id=patient_id, organization_id=org)
        return _("The patient may book online again. They have been told by message.")
    raise InvalidInput(_("Unknown action."))


@login_required
@domain_errors
def patient_file(request: HttpRequest, patient_id: str) -> HttpResponse:
    """A patient known to the user's organizations (an audited read, a 404 for anyone else): identity,
    upcoming and past appointments in the agendas the user may see, missed ones (excused or not), the
    organization's notes, and the online-booking block."""
    actor = staff_actor(request)
    patient = access_patient(actor, patient_id)
    note_form = NoteForm(request.POST if request.POST.get("action") == "note" else None)
    error: DomainError | None = None
    if request.method == "POST":
        try:
            done = _apply(request, actor, patient.pk, note_form)
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, done)
            return redirect("web:staff_patient", patient_id=patient.pk)
    rows = patient_history(actor, patient_id=patient.pk)
    now = clock.now()
    upcoming = sorted((a for a in rows if a.status == Status.BOOKED and a.end_at > now), key=lambda a: a.start_at)
    past = [a for a in rows if a not in upcoming]
    missed = [a for a in rows if a.status == Status.NO_SHOW]
    blocks = active_booking_blocks(actor, patient)
    blocked_orgs = {b.organization_id for b in blocks}
    orgs = list(Organization.objects.filter(pk__in=sorted(actor.organization_ids)).order_by("name"))
    context = {
        "patient": patient,
        "upcoming": upcoming,
        "past": past,
        "no_shows": len(missed),
        "no_shows_excused": sum(1 for a in missed if a.no_show_excused),
        "cancelled": sum(1 for a in rows if a.status == Status.CANCELLED),
        "notes": patient_notes(actor, patient),
        "note_form": note_form,
        "blocks": blocks,
        "can_block": [o for o in orgs if o.pk not in blocked_orgs and may_block_online_booking(actor, o.pk)],
        "can_unblock": {o.pk for o in orgs if may_block_online_booking(actor, o.pk)},
        "organizations": orgs,
        "many_orgs": len(orgs) > 1,
        "reason": request.POST.get("reason", "") if error else "",
        "error": error,
        "tz": zoneinfo.ZoneInfo(settings.CRENEAU_DEFAULT_TIME_ZONE),
    }
    return render(request, "web/staff/patient.html", context, status=error.http_status if error else 200)
