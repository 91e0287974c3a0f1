"""Thin views: the account's "messages we sent you" (with code check) and a waiting-list offer."""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creneau.accounts.actors import patient_actor
from creneau.core.errors import DomainError
from creneau.notifications import selectors, waitlist
from creneau.notifications.models import OfferStatus


@login_required
def messages(request: HttpRequest) -> HttpResponse:
    actor = patient_actor(request)
    code = request.GET.get("code", "").strip()[:20]
    context = {
        "sent": selectors.messages_sent_to_account(actor),
        "code": code,
        "matches": selectors.message_verify(actor, code) if code else None,
    }
    return render(request, "notifications/messages.html", context)


@login_required
def offer(request: HttpRequest, offer_id: str) -> HttpResponse:
    actor = patient_actor(request)
    try:
        the_offer = selectors.access_waitlist_offer(actor, offer_id)
    except DomainError as exc:
        return render(request, "notifications/offer.html", {"error": exc.message}, status=exc.http_status)
    error = None
    if request.method == "POST":
        try:
            if request.POST.get("action") == "decline":
                waitlist.waitlist_offer_decline(actor=actor, offer_id=the_offer.pk)
            else:
                waitlist.waitlist_offer_accept(actor=actor, offer_id=the_offer.pk)
            return redirect("notifications:offer", offer_id=the_offer.pk)
        except DomainError as exc:
            error = exc.message
        the_offer.refresh_from_db()
    return render(
        request,
        "notifications/offer.html",
        {"offer": the_offer, "error": error, "open": the_offer.status == OfferStatus.OFFERED},
        status=422 if error else 200,
    )


@login_required
def waitlist_page(request: HttpRequest) -> HttpResponse:
    """The account's waiting lists, each with a button to leave it."""
    actor = patient_actor(request)
    if request.method == "POST":
        try:
            waitlist.waitlist_leave(actor=actor, entry_id=request.POST.get("entry", ""))
        except DomainError as exc:
            return render(request, "notifications/waitlist.html", {"error": exc.message}, status=exc.http_status)
        flash.success(request, _("You left this waiting list."))
        return redirect("notifications:waitlist")
    return render(request, "notifications/waitlist.html", {"entries": selectors.waitlist_entries_of_account(actor)})


@login_required
@require_POST
def waitlist_join(request: HttpRequest) -> HttpResponse:
    """Join from an appointment (`appointment_id`): be offered an earlier slot if one frees up."""
    actor = patient_actor(request)
    try:
        waitlist.waitlist_join_for_appointment(actor=actor, appointment_id=request.POST.get("appointment_id", ""))
    except DomainError as exc:
        return render(request, "notifications/waitlist.html", {"error": exc.message}, status=exc.http_status)
    flash.success(request, _("You are on the waiting list. We will write to you if an earlier slot frees up."))
    return redirect("notifications:waitlist")
