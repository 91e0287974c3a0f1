"""Suspended principals are refused at the door of every channel, with a machine-readable reason.

Detection (or an operator) suspends a principal (`audit.services.principal_suspend`): user accounts
are deactivated, API clients keep their id. Every later request of theirs is answered 403 with the reason
`suspended` *before* anything else is parsed or looked up (the FHIR bearer check, the token endpoint, the
web session), and costs exactly one audit event (outcome `denied`): no not-found events, no detection
rules, nothing half-done. Services that write patient records check it again (defense in depth)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext_lazy

from .actors import Actor, ActorKind, Channel
from .errors import PermissionDenied

REASON = "suspended"
# Response header naming the refusal, for clients that do not parse the body.
REASON_HEADER = "Creneau-Refusal"
MESSAGE = gettext_lazy("This account or client is suspended. Contact the platform's support.")


class Suspended(PermissionDenied):
    code = REASON


def is_suspended(principal: str) -> bool:
    from creneau.audit.detection import is_suspended as stored

    return stored(principal)


def record_refusal(actor: Actor, *, via: str) -> None:
    """The one audit event of a refused request (outcome denied: detection does not count it)."""
    from creneau.audit.models import Action, Outcome
    from creneau.audit.services import audit_record

    audit_record(actor=actor, action=Action.READ, object_type="request", outcome=Outcome.DENIED, via=via)


def ensure_not_suspended(actor: Actor) -> None:
    """For services (inside their transaction): raise `Suspended`, with no audit event of its own (the
    channel's gate records the refused request)."""
    if actor.kind != ActorKind.SYSTEM and is_suspended(actor.key):
        raise Suspended(MESSAGE)


def refuse_if_suspended(actor: Actor, *, via: str) -> None:
    """Raise `Suspended` (one audit event) when the actor's principal is suspended."""
    if actor.kind != ActorKind.SYSTEM and is_suspended(actor.key):
        record_refusal(actor, via=via)
        raise Suspended(MESSAGE)


def suspended_page(request: HttpRequest) -> HttpResponse:
    response = render(request, "core/suspended.html", {"message": MESSAGE}, status=403)
    response[REASON_HEADER] = REASON
    return response


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
            from creneau.accounts.models import User

            from .ratelimit import client_ip

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
