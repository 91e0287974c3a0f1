"""Practice pages: agenda (day/week), booking for a phone caller, appointment actions, settings.

Every page starts from `staff_actor` and an `access_*` selector: an agenda or appointment outside the
user's organizations, or a colleague's agenda without a grant, is a 404 exactly like one that does not
exist; an agenda the user sees without the right an action needs is a 403 that names the right."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from creneau.accounts.actors import staff_actor
from creneau.booking.models import Status
from creneau.booking.selectors import access_appointment, booked_between
from creneau.booking.services import (
    SlotRef,
    absence_create_over_appointments,
    appointment_book,
    appointment_cancel,
    appointment_force,
    appointment_mark,
    appointment_reschedule,
    slot_check,
)
from creneau.booking.video import video_link_for
from creneau.core import clock
from creneau.core.actors import Actor, AgendaRight
from creneau.core.errors import DomainError, InvalidInput, NotFound, PolicyViolation
from creneau.core.ids import parse_id
from creneau.directory.models import Agenda
from creneau.directory.selectors import (
    access_agenda,
    access_agenda_site,
    agenda_id_of,
    agenda_sites,
    agendas_for,
)
from creneau.notifications.services import reminders_off_for, reminders_switch
from creneau.patients.selectors import access_patient, patient_search_for_organization
from creneau.patients.services import patient_create_for_organization
from creneau.scheduling import services as scheduling
from creneau.scheduling.models import Motif
from creneau.scheduling.selectors import (
    access_motif,
    agenda_absences,
    agenda_motifs,
    agenda_rules,
    free_slots,
    motif_questions,
)

from . import agenda_grid as grid
from .common import domain_errors, error_page, monday_of, parse_day, parse_slot_start
from .forms import AbsenceForm, IdentityForm, MotifForm, OpeningRuleForm, QuestionForm, StaffPatientSearchForm


@login_required
@domain_errors
def staff_home(request: HttpRequest) -> HttpResponse:
    """The agendas the user may see, grouped by organization, and the admin links of organizations
    they administer."""
    actor = staff_actor(request)
    agendas = sorted(
        agendas_for(actor, AgendaRight.VIEW),
        key=lambda a: (a.organization.name, a.practitioner.family_name, a.practitioner.given_name),
    )
    rights = {
        a.pk: actor.agenda_rights(organization_id=a.organization_id, practitioner_id=a.practitioner_id) for a in agendas
    }
    rows = [(a, AgendaRight.MANAGE in rights[a.pk]) for a in agendas]
    return render(
        request,
        "web/staff/home.html",
        {"rows": rows, "is_admin": bool(actor.admin_of), "many_orgs": len(actor.organization_ids) > 1},
    )


def _agenda_tz(sites: list[Any]) -> zoneinfo.ZoneInfo:
    return sites[0].tz if sites else zoneinfo.ZoneInfo(settings.CRENEAU_DEFAULT_TIME_ZONE)


def _pick_motif(motifs: list[Motif], wanted: str | None) -> Motif | None:
    """The visit reason whose free times are drawn: the one asked for, else the agenda's first."""
    if not wanted:
        return motifs[0] if motifs else None
    motif_id = parse_id(wanted)
    motif = next((m for m in motifs if m.pk == motif_id), None)
    if motif is None:
        raise NotFound(_("Unknown visit reason."))
    return motif


@login_required
@domain_errors
def agenda_view(request: HttpRequest, agenda_id: str) -> HttpResponse:
    """Day or week of one agenda as a time grid: booked, free (for the chosen visit reason), held,
    absent and closed times. The practitioner's absences and appointments entered by another
    organization show as busy time, without their label."""
    actor = staff_actor(request)
    ag = access_agenda(actor, agenda_id, AgendaRight.VIEW)
    doc = ag.practitioner
    can_book = grid.can(actor, AgendaRight.BOOK, ag)
    sites = agenda_sites(ag)
    tz = _agenda_tz(sites)
    today = clock.now().astimezone(tz).date()
    day = parse_day(request.GET.get("date"), today)
    mode = "day" if request.GET.get("view") == "day" else "week"
    first = day if mode == "day" else monday_of(day)
    n_days = 1 if mode == "day" else 7
    motifs = agenda_motifs(ag, active_only=True)
    motif = _pick_motif(motifs, request.GET.get("motif"))
    days = [first + dt.timedelta(days=i) for i in range(n_days)]
    columns = grid.build_columns(
        actor,
        first_index=2,
        ag=ag,
        days=days,
        tz=tz,
        sites=sites,
        motif=motif,
        can_book=can_book,
        titles=[date_format(d, "D j N") for d in days],
    )
    step = dt.timedelta(days=n_days)
    context = {
        "agenda": ag,
        "doc": doc,
        "can_manage": grid.can(actor, AgendaRight.MANAGE, ag),
        "can_force": grid.can(actor, AgendaRight.FORCE, ag),
        "mode": mode,
        "day": day,
        "grid": grid.place(columns),
        "motifs": motifs,
        "motif": motif,
        "prev": first - step,
        "next": first + step,
        "today": today,
        "tz": tz,
        "n_days": n_days,
        "force_site": sites[0] if sites and can_book else None,
        "group_org": ag.organization_id if len(_group_agendas(actor, ag.organization_id)) > 1 else None,
    }
    return render(request, "web/staff/agenda.html", context)


def _group_agendas(actor: Actor, organization_id: uuid.UUID) -> list[Agenda]:
    return sorted(
        agendas_for(actor, AgendaRight.VIEW).filter(organization_id=organization_id),
        key=lambda a: (a.practitioner.family_name, a.practitioner.given_name),
    )


@login_required
@domain_errors
def group_day_view(request: HttpRequest, organization_id: str) -> HttpResponse:
    """One day of a group practice: a column per practitioner whose agenda the user may see (their
    rights decide which; an organization the user does not belong to is a 404)."""
    actor = staff_actor(request)
    oid = parse_id(organization_id)
    agendas = _group_agendas(actor, oid) if oid in actor.organization_ids else []
    if not agendas:
        raise NotFound(_("Unknown organization."))
    first_sites = agenda_sites(agendas[0])
    tz = _agenda_tz(first_sites)
    today = clock.now().astimezone(tz).date()
    day = parse_day(request.GET.get("date"), today)
    columns: list[grid.Column] = []
    for i, ag in enumerate(agendas):
        sites = agenda_sites(ag)
        columns += grid.build_columns(
            actor,
            first_index=i + 2,
            ag=ag,
            days=[day],
            tz=tz,
            sites=sites,
            motif=_pick_motif(agenda_motifs(ag, active_only=True), None),
            can_book=grid.can(actor, AgendaRight.BOOK, ag),
            titles=[ag.practitioner.display_name],
        )
    context = {
        "organization": agendas[0].organization,
        "day": day,
        "today": today,
        "prev": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1),
        "grid": grid.place(columns),
        "tz": tz,
        "mode": "group",
    }
    return render(request, "web/staff/group_day.html", context)


@login_required
@domain_errors
def book_for_caller(request: HttpRequest, agenda_id: str) -> HttpResponse:
    """Phone booking: find the caller among the organization's patients, or create them; then book."""
    actor = staff_actor(request)
    ag = access_agenda(actor, agenda_id, AgendaRight.BOOK)
    doc = ag.practitioner
    data = request.POST if request.method == "POST" else request.GET
    motif = access_motif(actor, data.get("motif", ""), AgendaRight.BOOK)
    if motif.agenda_id != ag.pk:
        raise NotFound(_("Unknown visit reason."))
    site = access_agenda_site(ag, data.get("site", ""))
    if data.get("at") and not data.get("start"):
        # A time typed in the agenda's "force a booking" form, in the site's wall-clock time.
        picked = grid.parse_local(data["at"], site.tz)
        if picked is None:
            raise InvalidInput(_("This time is not valid."))
        start = picked
    else:
        start = parse_slot_start(data.get("start"))
    ref = SlotRef(doc.pk, motif.pk, site.pk, start)
    can_force = grid.can(actor, AgendaRight.FORCE, ag)
    chosen: Any = None
    action = request.POST.get("action", "")
    search_form = StaffPatientSearchForm(request.POST if action == "search" else None, prefix="s")
    create_form = IdentityForm(request.POST if action == "create" else None, prefix="c")
    found: list[Any] | None = None
    error: DomainError | None = None
    status = 200
    try:
        if action == "search":
            if search_form.is_valid():
                found = patient_search_for_organization(
                    actor,
                    name=search_form.cleaned_data["name"],
                    birth_date=search_form.cleaned_data["birth_date"],
                    phone=search_form.cleaned_data["phone"],
                )
            else:
                status = 400
        elif action in ("book", "create"):
            if action == "create":
                if not create_form.is_valid():
                    raise InvalidInput(_("Please correct the caller's details."))
                # A refused time (past, taken, not a slot) is refused before the caller is created,
                # and a refusal at booking rolls the new record back: nothing is left behind.
                slot_check(actor=actor, slot=ref)
                with transaction.atomic():
                    patient = patient_create_for_organization(
                        actor=actor, organization_id=site.organization_id, **create_form.identity()
                    )
                    appointment = appointment_book(actor=actor, slot=ref, patient_id=patient.pk)
            else:
                patient = access_patient(actor, request.POST.get("patient", ""))
                chosen = patient
                appointment = appointment_book(actor=actor, slot=ref, patient_id=patient.pk)
            messages.success(request, _("Appointment booked."))
            local = appointment.start_at.astimezone(site.tz).date().isoformat()
            return redirect(f"{reverse('web:staff_agenda', args=[ag.pk])}?date={local}&motif={motif.pk}")
        elif action == "force":
            chosen = access_patient(actor, request.POST.get("patient", ""))
            if request.POST.get("confirm") != "yes":
                raise InvalidInput(_("Tick the box to confirm that this booking is forced."))
            appointment = appointment_force(
                actor=actor, slot=ref, patient_id=chosen.pk, reason=request.POST.get("reason", "")
            )
            messages.success(request, _("Forced appointment booked."))
            local = appointment.start_at.astimezone(site.tz).date().isoformat()
            return redirect(f"{reverse('web:staff_agenda', args=[ag.pk])}?view=day&date={local}&motif={motif.pk}")
    except DomainError as exc:
        error, status = exc, exc.http_status
    context = {
        "can_force": can_force,
        "chosen": chosen,
        "reason": request.POST.get("reason", ""),
        "agenda": ag,
        "doc": doc,
        "motif": motif,
        "site": site,
        "start": start,
        "stamp": start.strftime("%Y%m%dT%H%MZ"),
        "search_form": search_form,
        "create_form": create_form,
        "found": found,
        "error": error,
    }
    return render(request, "web/staff/book.html", context, status=status)


@login_required
@domain_errors
def appointment_view(request: HttpRequest, appointment_id: str) -> HttpResponse:
    """One appointment: cancel, mark fulfilled or no-show, move to a free time."""
    actor = staff_actor(request)
    a = access_appointment(actor, appointment_id)
    error: DomainError | None = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "cancel":
                appointment_cancel(actor=actor, appointment_id=a.pk)
                messages.success(request, _("Appointment cancelled."))
            elif action in (Status.FULFILLED, Status.NO_SHOW, "no_show_excused"):
                excused = action == "no_show_excused"
                marked = Status.NO_SHOW if excused else action
                appointment_mark(actor=actor, appointment_id=a.pk, status=marked, excused=excused)
                messages.success(request, _("Saved."))
            elif action == "move":
                a = appointment_reschedule(
                    actor=actor, appointment_id=a.pk, new_start=parse_slot_start(request.POST.get("start"))
                )
                messages.success(request, _("Appointment moved."))
            else:
                raise InvalidInput(_("Unknown action."))
        except DomainError as exc:
            error = exc
        else:
            return redirect("web:staff_appointment", appointment_id=a.pk)
    tz = a.site.tz
    context = {
        "a": a,
        "agenda_id": agenda_id_of(organization_id=a.organization_id, practitioner_id=a.practitioner_id),
        "error": error,
        "can_move": a.status == Status.BOOKED,
        "tz": tz,
        "can_mark": a.status != Status.CANCELLED and a.start_at <= clock.now(),
        "video_url": video_link_for(actor, a),
    }
    return render(request, "web/staff/appointment.html", context, status=error.http_status if error else 200)


@login_required
@domain_errors
def appointment_move(request: HttpRequest, appointment_id: str) -> HttpResponse:
    """Move an appointment: choose a day, see that day's free times for its visit reason, confirm.
    The grid's drag and drop lands on the confirmation step here (`at`, a wall-clock time); the move
    itself is `appointment_reschedule`, with its rules and messages."""
    actor = staff_actor(request)
    a = access_appointment(actor, appointment_id, right=AgendaRight.BOOK)
    tz = a.site.tz
    error: DomainError | None = None
    if request.method == "POST":
        try:
            moved = appointment_reschedule(
                actor=actor, appointment_id=a.pk, new_start=parse_slot_start(request.POST.get("start"))
            )
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, _("Appointment moved."))
            return redirect("web:staff_appointment", appointment_id=moved.pk)
    if a.status != Status.BOOKED:
        raise PolicyViolation(_("Only a booked appointment can be moved."), code="not-booked")
    data = request.POST if request.method == "POST" else request.GET
    target: dt.datetime | None = None
    if data.get("at"):
        target = grid.parse_local(data["at"], tz)
        if target is None:
            raise InvalidInput(_("This time is not valid."))
    elif data.get("start"):
        target = parse_slot_start(data.get("start"))
    default_day = (target or a.start_at).astimezone(tz).date()
    day = parse_day(request.GET.get("date"), default_day) if target is None else default_day
    start, end = grid.day_bounds(day, tz)
    times = free_slots(practitioner_id=a.practitioner_id, motif_id=a.motif_id, start=start, end=end, site_id=a.site_id)
    if target is not None and error is None and not any(s.start == target for s in times):
        error = PolicyViolation(_("This time is not an available slot for this visit reason."), code="not-a-slot")
    context = {
        "a": a,
        "tz": tz,
        "day": day,
        "prev": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1),
        "times": [(s, grid.stamp_of(s.start)) for s in times],
        "target": target if error is None else None,
        "target_stamp": grid.stamp_of(target) if target is not None else "",
        "error": error,
        "agenda_id": agenda_id_of(organization_id=a.organization_id, practitioner_id=a.practitioner_id),
    }
    return render(request, "web/staff/move.html", context, status=error.http_status if error else 200)


def _rule_sites(agenda: Agenda) -> list[tuple[str, str]]:
    return [(str(s.pk), f"{s.name} ({s.city})") for s in agenda_sites(agenda)]


@login_required
@domain_errors
def settings_view(request: HttpRequest, agenda_id: str) -> HttpResponse:
    """Visit reasons, weekly opening hours and absences of one agenda, through the scheduling services.
    Needs the right to manage the agenda; absences entered by other organizations are not listed."""
    actor = staff_actor(request)
    ag = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
    doc = ag.practitioner
    action = request.POST.get("action", "") if request.method == "POST" else ""
    tz = zoneinfo.ZoneInfo(settings.CRENEAU_DEFAULT_TIME_ZONE)
    motif_form = MotifForm(request.POST if action == "motif_create" else None, prefix="m", sites=_rule_sites(ag))
    rule_form = OpeningRuleForm(
        request.POST if action == "rule_create" else None,
        prefix="r",
        sites=_rule_sites(ag),
        initial={"valid_from": clock.now().astimezone(tz).date()},
    )
    absence_form = AbsenceForm(request.POST if action == "absence_create" else None, prefix="a")
    error: DomainError | None = None
    status = 200
    if action == "absence_create" and absence_form.is_valid():
        return _absence_over_patients(request, actor, ag, absence_form)
    if action:
        try:
            done = _apply_setting(actor, ag, action, request.POST, motif_form, rule_form, absence_form)
        except DomainError as exc:
            error, status, done = exc, exc.http_status, False
        if done:
            messages.success(request, _("Saved."))
            return redirect("web:staff_settings", agenda_id=ag.pk)
        if error is None:
            status = 400
    now = clock.now()
    context = {
        "agenda": ag,
        "doc": doc,
        "motifs": agenda_motifs(ag),
        "rules": agenda_rules(ag),
        "absences": [b for b in agenda_absences(ag, start=now, end=now + dt.timedelta(days=3650)) if b.absence_id],
        "motif_form": motif_form,
        "rule_form": rule_form,
        "absence_form": absence_form,
        "reminders_off": bool(reminders_off_for(agenda_ids=[ag.pk])),
        "error": error,
        "tz": tz,
    }
    return render(request, "web/staff/settings.html", context, status=status)


def _absence_over_patients(request: HttpRequest, actor: Actor, ag: Agenda, form: AbsenceForm) -> HttpResponse:
    """Saving an absence: when it covers booked patients, they are shown first and staff choose to
    cancel them (each patient is told, with a link to book again) or keep them to move one by one;
    nothing is saved before that choice."""
    cd = form.cleaned_data
    decision = request.POST.get("decision", "")
    covered = booked_between(actor, ag, start=cd["start_at"], end=cd["end_at"])
    if covered and decision not in ("cancel", "keep"):
        tz = _agenda_tz(agenda_sites(ag))
        fields = [(k, v) for k, v in request.POST.items() if k.startswith("a-") or k == "action"]
        context = {"agenda": ag, "doc": ag.practitioner, "covered": covered, "fields": fields, "tz": tz, "cd": cd}
        return render(request, "web/staff/absence_confirm.html", context)
    try:
        absence, covered = absence_create_over_appointments(
            actor=actor,
            agenda_id=ag.pk,
            start_at=cd["start_at"],
            end_at=cd["end_at"],
            label=cd["label"],
            cancel=decision == "cancel",
        )
    except DomainError as exc:
        return error_page(request, exc)
    if not covered:
        messages.success(request, _("Saved."))
        return redirect("web:staff_settings", agenda_id=ag.pk)
    local = absence.start_at.astimezone(_agenda_tz(agenda_sites(ag))).date().isoformat()
    if decision == "cancel":
        messages.success(
            request,
            _("Absence saved. %(n)d appointments cancelled; each patient was told.") % {"n": len(covered)},
        )
    else:
        messages.warning(
            request,
            _("Absence saved. %(n)d appointments are still in it: move them one by one.") % {"n": len(covered)},
        )
    return redirect(f"{reverse('web:staff_agenda', args=[ag.pk])}?view=day&date={local}")


def _apply_setting(
    actor: Actor,
    ag: Agenda,
    action: str,
    post: Any,
    motif_form: MotifForm,
    rule_form: OpeningRuleForm,
    absence_form: AbsenceForm,
) -> bool:
    """Run one settings action; False when a form is invalid (its errors are shown)."""
    if action == "motif_create":
        if not motif_form.is_valid():
            return False
        scheduling.motif_create(actor=actor, agenda_id=ag.pk, **motif_form.cleaned_data)
    elif action == "motif_toggle":
        motif_id: uuid.UUID = parse_id(post.get("motif"))
        scheduling.motif_update(actor=actor, motif_id=motif_id, is_active=post.get("active") == "1")
    elif action == "rule_create":
        if not rule_form.is_valid():
            return False
        scheduling.opening_rule_create(
            actor=actor,
            agenda_id=ag.pk,
            site_id=rule_form.cleaned_data["site"],
            weekday=rule_form.cleaned_data["weekday"],
            start_time=rule_form.cleaned_data["start_time"],
            end_time=rule_form.cleaned_data["end_time"],
            valid_from=rule_form.cleaned_data["valid_from"],
            valid_until=rule_form.cleaned_data["valid_until"],
        )
    elif action == "rule_delete":
        scheduling.opening_rule_delete(actor=actor, rule_id=post.get("rule", ""))
    elif action == "absence_create":
        if not absence_form.is_valid():
            return False
        cd = absence_form.cleaned_data
        scheduling.absence_create(
            actor=actor,
            agenda_id=ag.pk,
            start_at=cd["start_at"],
            end_at=cd["end_at"],
            label=cd["label"],
        )
    elif action == "absence_delete":
        scheduling.absence_delete(actor=actor, absence_id=post.get("absence", ""))
    elif action == "reminders":
        reminders_switch(actor=actor, agenda_id=ag.pk, enabled=post.get("on") == "1")
    else:
        raise InvalidInput(_("Unknown action."))
    return True


MOTIF_EDIT_FIELDS = (
    "name",
    "duration_minutes",
    "buffer_minutes",
    "audience",
    "channel",
    "min_notice_minutes",
    "max_horizon_days",
    "bookable_online",
    "shown_online",
    "category",
    "site_id",
    "instructions",
    "min_age_years",
    "max_age_years",
)


@login_required
@domain_errors
def motif_edit(request: HttpRequest, motif_id: str) -> HttpResponse:
    """Change a visit reason of a practitioner of the user's organizations (`motif_update`), and the
    questions patients answer before booking it (`motif_question_add` / `motif_question_delete`)."""
    actor = staff_actor(request)
    motif = access_motif(actor, motif_id, AgendaRight.MANAGE)
    initial = {k: getattr(motif, k) for k in MOTIF_EDIT_FIELDS}
    initial["site_id"] = str(motif.site_id or "")
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = MotifForm(
        request.POST if request.method == "POST" and not action else None,
        initial=initial,
        sites=_rule_sites(motif.agenda),
    )
    question_form = QuestionForm(request.POST if action == "question_add" else None, prefix="q")
    error: DomainError | None = None
    try:
        if action == "question_add":
            if question_form.is_valid():
                scheduling.motif_question_add(
                    actor=actor,
                    motif_id=motif.pk,
                    text=question_form.cleaned_data["text"],
                    required=question_form.cleaned_data["required"],
                )
                messages.success(request, _("Question added."))
                return redirect("web:staff_motif", motif_id=motif.pk)
        elif action == "reminders":
            reminders_switch(actor=actor, motif_id=motif.pk, enabled=request.POST.get("on") == "1")
            messages.success(request, _("Saved."))
            return redirect("web:staff_motif", motif_id=motif.pk)
        elif action == "question_delete":
            scheduling.motif_question_delete(actor=actor, question_id=request.POST.get("question", ""))
            messages.success(request, _("Question removed."))
            return redirect("web:staff_motif", motif_id=motif.pk)
        elif action:
            raise InvalidInput(_("Unknown action."))
        elif request.method == "POST" and form.is_valid():
            scheduling.motif_update(actor=actor, motif_id=motif.pk, **form.cleaned_data)
            messages.success(request, _("Saved."))
            return redirect("web:staff_settings", agenda_id=motif.agenda_id)
    except DomainError as exc:
        error = exc
    status = error.http_status if error else (400 if request.method == "POST" else 200)
    context = {
        "motif": motif,
        "agenda": motif.agenda,
        "doc": motif.practitioner,
        "form": form,
        "question_form": question_form,
        "questions": motif_questions(motif.pk),
        "reminders_off": bool(reminders_off_for(motif_ids=[motif.pk])),
        "error": error,
    }
    return render(request, "web/staff/motif.html", context, status=status)
