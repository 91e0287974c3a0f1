"""Subscription ↔ fhir.Subscription (R4 rest-hook). Incoming: criteria, channel (type rest-hook, endpoint,
payload), reason and end; the status is the server's. Outgoing: the stored subscription, its pause
reason in `error`; the signing secret only in the answer to the creation (an extension)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from creneau.fhir.http import FhirError
from creneau.fhir.models import Subscription, SubscriptionStatus

from .common import instant, meta, parse_incoming, validated

SECRET_EXTENSION = "https://creneau.fr/fhir/StructureDefinition/subscription-secret"


def to_fhir(sub: Subscription, *, secret: str | None = None) -> dict[str, Any]:
    channel: dict[str, Any] = {"type": "rest-hook", "endpoint": sub.endpoint}
    if sub.payload:
        channel["payload"] = sub.payload
    resource: dict[str, Any] = {
        "resourceType": "Subscription",
        "id": str(sub.pk),
        "meta": meta(sub.updated_at),
        "status": sub.status,
        "reason": sub.reason or _("Appointments booked, moved, cancelled or marked no-show"),
        "criteria": sub.criteria,
        "channel": channel,
    }
    if sub.end:
        resource["end"] = instant(sub.end)
    if sub.status == SubscriptionStatus.ERROR and sub.error:
        resource["error"] = _("Paused after %(count)s failed deliveries in a row; last: %(reason)s") % {
            "count": sub.consecutive_failures,
            "reason": sub.error,
        }
    if secret is not None:
        resource["extension"] = [{"url": SECRET_EXTENSION, "valueString": secret}]
    return validated(resource)


@dataclasses.dataclass(frozen=True)
class SubscriptionRequest:
    criteria: str
    endpoint: str
    payload: str
    reason: str
    end: dt.datetime | None


def check_shape(data: dict[str, Any]) -> None:
    """The channel an object with a text endpoint, before the model parses it (the model's URL check
    raises a TypeError, not a validation error, on an object)."""
    channel = data.get("channel")
    if not isinstance(channel, dict) or not isinstance(channel.get("endpoint", ""), str):
        raise FhirError(400, _("A rest-hook subscription needs an endpoint."))


def from_fhir(data: dict[str, Any]) -> SubscriptionRequest:
    if "id" in data:
        raise FhirError(400, _("A new Subscription must not carry an id."))
    check_shape(data)
    model = parse_incoming("Subscription", data)
    if model.status not in ("requested", "active"):
        raise FhirError(422, _("A new subscription must have status requested."))
    channel = model.channel
    if channel.type != "rest-hook":
        raise FhirError(422, _("Only the rest-hook channel is supported."))
    if channel.header:
        raise FhirError(422, _("Channel headers are not supported: check the signature header instead."))
    if not channel.endpoint:
        raise FhirError(400, _("A rest-hook subscription needs an endpoint."))
    end = model.end
    if end is not None and end.tzinfo is None:
        raise FhirError(400, _("Give the end with a time zone."))
    return SubscriptionRequest(
        criteria=model.criteria,
        endpoint=str(channel.endpoint),
        payload=channel.payload or "",
        reason=model.reason or "",
        end=end,
    )
