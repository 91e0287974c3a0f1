"""Suspended principals are refused at the door of every channel, with a machine-readable reason.

Detection (or an operator) suspends a principal (`audit.services.principal_suspend`): user accounts
are deactivated, API clients keep their id. This module is the gate every channel calls; the store it
asks and the trail it writes to sit in audit, above core, named by two provider settings
(CRENEAU_SUSPENSION_PROVIDER, CRENEAU_REFUSAL_RECORDER). The browser side (a suspended session) is
`accounts.suspension.SuspendedSessionMiddleware`. Every later request of theirs is answered 403 with the reason
`suspended` *before* anything else is parsed or looked up (the FHIR bearer check, the token endpoint, the
web session), and costs exactly one audit event (outcome `denied`): no not-found events, no detection
rules, nothing half-done. Services that write patient records check it again (defense in depth)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy

from .actors import Actor, ActorKind
from .errors import PermissionDenied
from .providers import provider

REASON = "suspended"
# Response header naming the refusal, for clients that do not parse the body.
REASON_HEADER = "Creneau-Refusal"
MESSAGE = gettext_lazy("This account or client is suspended. Contact the platform's support.")


class Suspended(PermissionDenied):
    code = REASON


def is_suspended(principal: str) -> bool:
    """Asks the suspension store (CRENEAU_SUSPENSION_PROVIDER, audit's table of suspended principals).
    The setting is required (system check creneau.E107): without it no principal would ever be refused."""
    stored = provider("CRENEAU_SUSPENSION_PROVIDER")
    return bool(stored(principal)) if stored is not None else False


def record_refusal(actor: Actor, *, via: str) -> None:
    """The one audit event of a refused request (outcome denied: detection does not count it), written
    by CRENEAU_REFUSAL_RECORDER (audit's trail)."""
    record = provider("CRENEAU_REFUSAL_RECORDER")
    if record is not None:
        record(actor, via=via)


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
