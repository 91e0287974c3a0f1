"""Template helpers of the web pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone
from django.utils.translation import gettext

register = template.Library()


@register.simple_tag(takes_context=True)
def practice_staff(context: dict[str, Any]) -> bool:
    """Does the signed-in user belong to a practice (shows the 'My practice' link)? Cached per request."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return False
    if not hasattr(request, "_creneau_staff"):
        request._creneau_staff = request.user.memberships.exists()
    return bool(request._creneau_staff)


@register.filter
def slot_param(value: dt.datetime) -> str:
    """A slot start for a URL: compact UTC, no characters needing escapes (20260302T0830Z)."""
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")


@register.filter
def initials(practitioner: Any) -> str:
    return f"{practitioner.given_name[:1]}{practitioner.family_name[:1]}".upper()


@register.filter
def km(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.1f} km" if value < 10 else f"{round(value)} km"


@register.filter
def local(value: dt.datetime, tz: Any) -> dt.datetime:
    """`value` in the time zone `tz` (a ZoneInfo or a name); use with `date` inside {% timezone %}."""
    return timezone.localtime(value, tz) if value else value


@register.filter
def errmsg(error: Any) -> str:
    """The safe message of a DomainError in the current language (selectors raise plain English)."""
    return gettext(str(getattr(error, "message", error)))
