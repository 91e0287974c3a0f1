"""Helpers shared by the web views: domain errors as pages, slot parameters. Who is acting comes from
`accounts.actors` (the one request → actor adapter)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from creneau.core.errors import DomainError, InvalidInput

View = Callable[..., HttpResponse]


def error_page(request: HttpRequest, error: DomainError) -> HttpResponse:
    return render(request, "web/error.html", {"error": error}, status=error.http_status)


def domain_errors(view: View) -> View:
    """Render any DomainError a view lets through as a page with its safe message and status."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except DomainError as error:
            return error_page(request, error)

    return wrapper


def parse_slot_start(value: str | None) -> dt.datetime:
    """Parse a slot start from a URL or form (20260302T0830Z, or ISO-8601 with an offset)."""
    text = (value or "").strip()
    try:
        if len(text) == 15 and text.endswith("Z"):
            return dt.datetime.strptime(text, "%Y%m%dT%H%MZ").replace(tzinfo=dt.UTC)
        parsed = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(_("This time is not valid.")) from exc
    if parsed.tzinfo is None:
        raise InvalidInput(_("This time is not valid."))
    return parsed.astimezone(dt.UTC)


def parse_day(value: str | None, default: dt.date) -> dt.date:
    if not value:
        return default
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(_("This date is not valid.")) from exc
    if not dt.date(2000, 1, 1) <= day <= dt.date(2100, 1, 1):
        raise InvalidInput(_("This date is not valid."))
    return day


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())
