"""Subscription: create (the signing secret is in that answer only), read, search and delete the
client's own subscriptions. Creating needs appointment searches (`system/Appointment.rs`); the criteria
must name an agenda or a site of an organization that granted them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from creneau.core.actors import Actor, ActorKind, Channel

from .. import params, subscriptions
from .. import selectors as scoped
from ..http import Caller, FhirError, authenticate, fhir_response, if_match, read_body, write_response
from ..mappers import subscription as subscription_map
from ..mappers.common import parse_incoming, version_id
from .common import paged, valid_uuids


def _owner(caller: Caller) -> Actor:
    """The client itself, for its own subscriptions (no organization's data is read through them)."""
    return Actor(kind=ActorKind.API_CLIENT, channel=Channel.API, api_client_id=caller.client_id, ip=caller.ip)


def subscription_create(request: HttpRequest) -> HttpResponse:
    """201 with the subscription and its secret (never shown again, so the answer is always the
    representation and never stored by a cache); 403 for criteria outside the client's grants."""
    caller = authenticate(request, anonymous_ok=False)
    actor = caller.actor("Appointment", "s")
    wanted = subscription_map.from_fhir(read_body(request, "Subscription"))
    sub, secret = subscriptions.subscription_create(
        actor=actor,
        criteria=wanted.criteria,
        endpoint=wanted.endpoint,
        payload=wanted.payload,
        reason=wanted.reason,
        end=wanted.end,
    )
    location = f"{params.base_url(request)}Subscription/{sub.pk}"
    return fhir_response(
        subscription_map.to_fhir(sub, secret=secret), 201, {"Location": location, "Cache-Control": "no-store"}
    )


def subscription_read(request: HttpRequest, rid: str) -> HttpResponse:
    caller = authenticate(request, anonymous_ok=False)
    return fhir_response(subscription_map.to_fhir(scoped.access_subscription(_owner(caller), rid)))


def subscription_search(request: HttpRequest) -> HttpResponse:
    caller = authenticate(request, anonymous_ok=False)
    q = request.GET
    qs = scoped.subscriptions_of_client(_owner(caller))
    if ids_ := params.tokens(q, "_id"):
        qs = qs.filter(pk__in=valid_uuids([c for _s, c in ids_]))
    if statuses := [c for _s, c in params.tokens(q, "status")]:
        qs = qs.filter(status__in=statuses)
    return paged(request, "Subscription", qs, subscription_map.to_fhir)


def subscription_delete(request: HttpRequest, rid: str) -> HttpResponse:
    """200 with an OperationOutcome; the subscription is off and gone from reads (404 after)."""
    caller = authenticate(request, anonymous_ok=False)
    subscriptions.subscription_delete(actor=_owner(caller), subscription_id=rid)
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": _("Subscription deleted.")}],
    }
    return fhir_response(body, 200)


def subscription_update(request: HttpRequest, rid: str) -> HttpResponse:
    """Only the status changes: `off` stops it, `requested` resumes it (after a pause: a new handshake).
    Any other element sent differently is a 422; `If-Match` must name the current version."""
    caller = authenticate(request, anonymous_ok=False)
    owner = _owner(caller)
    current = scoped.access_subscription(owner, rid)
    if_match(request, version_id(current.updated_at))
    data = read_body(request, "Subscription")
    if str(data.get("id", rid)) != rid:
        raise FhirError(400, _("The id in the body is not the id in the URL."))
    subscription_map.check_shape(data)
    parse_incoming("Subscription", data)
    now = subscription_map.to_fhir(current)
    for element in ("criteria",):
        if element in data and data[element] != now[element]:
            raise FhirError(422, _("Only the status of a subscription can be changed."))
    channel = data.get("channel") or {}
    for element in ("type", "endpoint", "payload"):
        if channel.get(element, now["channel"].get(element)) != now["channel"].get(element):
            raise FhirError(422, _("Only the status of a subscription can be changed."))
    sub = subscriptions.subscription_update_status(
        actor=owner, subscription_id=current.pk, status=str(data.get("status", ""))
    )
    return write_response(request, subscription_map.to_fhir(sub), 200)
