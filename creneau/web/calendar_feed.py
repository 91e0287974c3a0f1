"""The account's calendar subscription: a page to make or stop the link, and the feed it opens
(`/calendar/<token>.ics`, read by calendar applications without a session). The feed's events have the
UIDs and SEQUENCEs of the downloads and e-mails (`notifications.ics`), so the same appointment is one
event in the person's calendar whatever route it came by."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from creneau.accounts.actors import patient_actor
from creneau.accounts.models import User
from creneau.booking.video import is_video, room_url
from creneau.notifications import ics
from creneau.notifications import services as notifications
from creneau.notifications.rendering import page_url
from creneau.notifications.selectors import calendar_feed_active, calendar_feed_appointments


@never_cache
@login_required
def calendar_feed(request: HttpRequest) -> HttpResponse:
    """Make a new subscription link (shown once) or stop the current one."""
    user: User = request.user  # type: ignore[assignment]  # login_required
    link = ""
    if request.method == "POST":
        if request.POST.get("action") == "stop":
            if notifications.calendar_feed_stop(actor=patient_actor(request), user=user):
                messages.success(request, _("The subscription link is stopped: calendars no longer receive updates."))
            return redirect("web:calendar_feed")
        token = notifications.calendar_feed_create(actor=patient_actor(request), user=user)
        link = page_url("web:calendar_feed_ics", token)
    active = calendar_feed_active(user)
    return render(request, "web/account/calendar_feed.html", {"link": link, "active": active})


@never_cache
def calendar_feed_ics(request: HttpRequest, token: str) -> HttpResponse:
    """The subscribed calendar; an unknown or stopped link is a plain 404."""
    appointments = calendar_feed_appointments(token)
    if appointments is None:
        raise Http404(_("Page not found."))
    # The feed lists only the account's own appointments (read as its holder): their rooms are theirs.
    body = ics.feed_calendar(
        appointments,
        url_of=lambda a: page_url("web:account_appointment", a.pk),
        video_url_of=lambda a: room_url(a.pk) if is_video(a) else "",
    )
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")
