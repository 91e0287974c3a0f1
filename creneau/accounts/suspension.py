"""What a suspension does to an account (listener of `audit.principal_suspended`), and to the browser
of a suspended account (`SuspendedSessionMiddleware`)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponseBase

from creneau.core.actors import Actor, ActorKind, Channel
from creneau.core.ratelimit import client_ip
from creneau.core.suspension import is_suspended, record_refusal, suspended_page

from .models import User


def on_principal_suspended(*, principal: str, reason: str) -> None:
    """A suspended user principal's account is deactivated at once, in the suspension's transaction
    (API clients keep their row: every channel's gate refuses a suspended principal)."""
    if principal.startswith("user:"):
        User.objects.filter(pk=principal.removeprefix("user:")).update(is_active=False)


class SuspendedSessionMiddleware:
    """A browser whose signed-in account was suspended gets a 403 "suspended" page on every request,
    instead of quietly becoming anonymous (suspension deactivates the account, which ends the session
    as far as Django is concerned). The session of an account deactivated otherwise (by an operator) is
    flushed at its next request: that browser is signed out, not merely treated as anonymous."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        pk = session.get(SESSION_KEY) if session is not None else None
        if pk and user is not None and not user.is_authenticated and is_suspended(f"user:{pk}"):
            account = User.objects.filter(pk=pk).first()
            if account is not None:
                if account.is_staff or account.is_superuser:
                    kind = ActorKind.OPERATOR
                elif account.memberships.exists():
                    kind = ActorKind.STAFF
                else:
                    kind = ActorKind.PATIENT
                actor = Actor(kind=kind, channel=Channel.WEB, user=account, ip=client_ip(request))
                record_refusal(actor, via="session")
                return suspended_page(request)
        if pk and user is not None and not user.is_authenticated and session is not None:
            # Signed in, but the account has since been deactivated or deleted: the session ends here
            # for good (reactivating the account later does not bring it back).
            session.flush()
        return self.get_response(request)
