"""A practitioner agenda's private calendar link: the page where staff who manage the agenda make or
stop it (the practitioner alone may include patients' names), and the feed calendar applications
fetch without a session (`/agenda-calendar/<token>.ics`; an unknown or stopped link is a 404)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from creneau.accounts.actors import staff_actor
from creneau.core.actors import AgendaRight
from creneau.directory.selectors import access_agenda
from creneau.notifications import agenda_feed as feeds
from creneau.notifications.rendering import page_url

from .common import domain_errors


@never_cache
@login_required
@domain_errors
def staff_agenda_feed(request: HttpRequest, agenda_id: str) -> HttpResponse:
    """Make a new link (shown once), with or without names, or stop the current one."""
    actor = staff_actor(request)
    agenda = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
    link = ""
    if request.method == "POST":
        if request.POST.get("action") == "stop":
            if feeds.agenda_feed_stop(actor=actor, agenda_id=agenda.pk):
                messages.success(request, _("The calendar link is stopped: calendars no longer receive updates."))
            return redirect("web:staff_agenda_feed", agenda_id=agenda.pk)
        token = feeds.agenda_feed_create(
            actor=actor, agenda_id=agenda.pk, with_details=request.POST.get("with_details") == "yes"
        )
        link = page_url("web:agenda_feed_ics", token)
    context = {
        "agenda": agenda,
        "doc": agenda.practitioner,
        "feed": feeds.agenda_feed_of(actor, agenda),
        "own": feeds.is_own_agenda(actor, agenda),
        "link": link,
    }
    return render(request, "web/staff/agenda_feed.html", context)


@never_cache
def agenda_feed_ics(request: HttpRequest, token: str) -> HttpResponse:
    body = feeds.agenda_feed_calendar(token)
    if body is None:
        raise Http404(_("Page not found."))
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")
