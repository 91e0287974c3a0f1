"""Re-authentication before sensitive changes (email, phone, password, second factor): ASVS 7.5.1.

`recent_auth_required` lets a view run only if the user typed their password (and second factor, when
they have one) within CRENEAU_REAUTH_SECONDS; otherwise it sends them to `accounts:reauth` first."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse

SESSION_AUTH_AT = "auth_at"


def mark_authenticated_now(request: HttpRequest) -> None:
    request.session[SESSION_AUTH_AT] = int(time.time())


@receiver(user_logged_in)
def _on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        mark_authenticated_now(request)


def recently_authenticated(request: HttpRequest) -> bool:
    at = request.session.get(SESSION_AUTH_AT)
    return isinstance(at, int) and time.time() - at <= settings.CRENEAU_REAUTH_SECONDS


def recent_auth_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not recently_authenticated(request):
            return HttpResponseRedirect(f"{reverse('accounts:reauth')}?{urlencode({'next': request.get_full_path()})}")
        return view(request, *args, **kwargs)

    return wrapped
