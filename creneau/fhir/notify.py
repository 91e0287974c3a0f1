"""What subscriptions send and what their deliveries change.

Booking emits `appointment.booked / cancelled / moved / no_show` inside its transaction;
`settings.CRENEAU_EVENT_HANDLERS` routes them here (fhir sits above booking and notifications, which
never import it). For each live subscription whose agenda or site is the appointment's, and whose
client still holds a grant of the appointment's organization allowing appointment searches, one web
hook is queued in the outbox in that same transaction: the notification commits or rolls back with the
booking. The outbox delivers it (retries with backoff) and reports each outcome
(`outbox.webhook_delivered / webhook_failed`), handled below: a delivery is audited as a disclosure to
the client (which appointment, which patient, which organization); consecutive failures pause the
subscription (status error, the reason readable by the client), which withdraws what is still queued.

Every notification is an HTTP POST with these headers, the body empty or the Appointment:
`X-Creneau-Event` (appointment.booked…, or `handshake`), `X-Creneau-Resource` (`Appointment/<id>`),
`X-Creneau-Subscription`, `X-Creneau-Timestamp` (Unix seconds) and `X-Creneau-Signature`:
`sha256=` + hex HMAC-SHA256, keyed with the subscription's secret, of
`<timestamp>.<event>.<resource>.<body>` (docs/fhir.md shows how to check it)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from django.conf import settings
from django.db.models import F, Q

from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record
from creneau.booking.models import Appointment
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.notifications.outbox import cancel_pending_webhooks, queue_webhook

from . import scopes
from .mappers import appointment as appointment_map
from .models import ApiGrant, Subscription, SubscriptionStatus

HANDSHAKE = "handshake"
LIVE = (SubscriptionStatus.REQUESTED, SubscriptionStatus.ACTIVE)
_PREFIX = "fhirsub:"


def dedup_prefix(subscription_id: uuid.UUID) -> str:
    return f"{_PREFIX}{subscription_id}:"


def signature(secret: str, *, timestamp: str, event: str, resource: str, body: str) -> str:
    """The value of `X-Creneau-Signature` for one notification."""
    message = f"{timestamp}.{event}.{resource}.{body}".encode()
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _queue(
    sub: Subscription, *, event: str, resource: str, body: str, key: str, appointment_id: uuid.UUID | None
) -> None:
    timestamp = str(int(clock.now().timestamp()))
    headers = {
        "X-Creneau-Event": event,
        "X-Creneau-Resource": resource,
        "X-Creneau-Subscription": str(sub.pk),
        "X-Creneau-Timestamp": timestamp,
        "X-Creneau-Signature": signature(sub.secret, timestamp=timestamp, event=event, resource=resource, body=body),
    }
    if body:
        headers["Content-Type"] = f"{sub.payload}; charset=utf-8"
    queue_webhook(
        url=sub.endpoint,
        body=body,
        headers=headers,
        dedup=f"{dedup_prefix(sub.pk)}{key}",
        appointment_id=appointment_id,
    )


def queue_handshake(sub: Subscription) -> None:
    """The first notification (and the first after a resume): empty, signed; a 2xx answer makes the
    subscription active."""
    key = f"{HANDSHAKE}:{uuid.uuid4().hex}"
    _queue(sub, event=HANDSHAKE, resource=f"Subscription/{sub.pk}", body="", key=key, appointment_id=None)


# --- booking's events ------------------------------------------------------------------------------------


def _permissions_by_client(subs: list[Subscription], organization_id: uuid.UUID) -> dict[int, set[tuple[str, str]]]:
    out: dict[int, set[tuple[str, str]]] = {}
    rows = ApiGrant.objects.active().filter(
        application_id__in={s.application_id for s in subs}, organization_id=organization_id
    )
    for application_id, scope_text in rows.values_list("application_id", "scopes"):
        out.setdefault(application_id, set()).update(scopes.permissions(scope_text.split()))
    return out


def _notify(event: str, appointment_ids: list[uuid.UUID]) -> int:
    """Queue the notifications of one event for its appointments; returns how many. One query when no
    subscription follows the agenda or site (the common case, inside every booking)."""
    rows = Appointment.objects.filter(pk__in=appointment_ids)
    now = clock.now()
    subs = list(
        Subscription.objects.filter(status__in=LIVE, deleted_at__isnull=True)
        .filter(Q(end__isnull=True) | Q(end__gt=now))
        .filter(Q(practitioner_id__in=rows.values("practitioner_id")) | Q(site_id__in=rows.values("site_id")))
    )
    if not subs:
        return 0
    queued = 0
    appointments = rows.select_related("practitioner__specialty", "site", "motif", "patient")
    for a in appointments:
        concerned = [s for s in subs if s.practitioner_id == a.practitioner_id or s.site_id == a.site_id]
        if not concerned:
            continue
        allowed = _permissions_by_client(concerned, a.organization_id)
        for sub in concerned:
            perms = allowed.get(sub.application_id, set())
            if ("Appointment", "s") not in perms:
                continue  # the organization no longer lets this client search its appointments
            body = ""
            if sub.payload:
                resource = appointment_map.to_fhir(a, patient_display=("Patient", "r") in perms)
                body = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
            version = int(a.updated_at.timestamp() * 1_000_000)
            _queue(
                sub,
                event=event,
                resource=f"Appointment/{a.pk}",
                body=body,
                key=f"{event}:{a.pk}:{version}",
                appointment_id=a.pk,
            )
            queued += 1
    return queued


def on_appointment_booked(*, appointment_id: uuid.UUID, **_: Any) -> None:
    _notify("appointment.booked", [appointment_id])


def on_appointment_cancelled(*, appointment_id: uuid.UUID, **_: Any) -> None:
    _notify("appointment.cancelled", [appointment_id])


def on_appointment_moved(*, old_appointment_id: uuid.UUID, new_appointment_id: uuid.UUID, **_: Any) -> None:
    """Both rows: the old one (now cancelled) and the new one (booked), each under `appointment.moved`."""
    _notify("appointment.moved", [old_appointment_id, new_appointment_id])


def on_appointment_no_show(*, appointment_id: uuid.UUID, **_: Any) -> None:
    _notify("appointment.no_show", [appointment_id])


# --- the outbox's report ---------------------------------------------------------------------------------


def _ours(dedup_key: str, headers: dict[str, str]) -> Subscription | None:
    if not dedup_key.startswith(_PREFIX):
        return None
    try:
        sub_id = uuid.UUID(headers.get("X-Creneau-Subscription", ""))
    except ValueError:
        return None
    return Subscription.objects.select_related("application").filter(pk=sub_id).first()


def on_webhook_delivered(
    *, dedup_key: str, appointment_id: uuid.UUID | None, headers: dict[str, str], **_: Any
) -> None:
    """A notification reached the partner: the failures count starts again, a requested subscription
    becomes active, and the disclosure is audited (the client, the appointment, its patient)."""
    sub = _ours(dedup_key, headers)
    if sub is None:
        return
    now = clock.now()
    Subscription.objects.filter(pk=sub.pk).update(consecutive_failures=0, updated_at=now)
    Subscription.objects.filter(pk=sub.pk, status=SubscriptionStatus.REQUESTED).update(
        status=SubscriptionStatus.ACTIVE, updated_at=now
    )
    if appointment_id is None:
        return
    row = Appointment.objects.filter(pk=appointment_id).values("patient_id", "organization_id").first()
    touched = [Touched(appointment_id=appointment_id)]
    if row is not None:
        touched = [
            Touched(patient_id=row["patient_id"], appointment_id=appointment_id, organization_id=row["organization_id"])
        ]
    audit_record(
        actor=Actor(kind=ActorKind.SYSTEM, channel=Channel.API, api_client_id=sub.application.client_id),
        action=Action.READ,
        object_type="appointment",
        object_id=appointment_id,
        via="fhir_subscription_notify",
        touched=touched,
        changes={
            "subscription": str(sub.pk),
            "event": headers.get("X-Creneau-Event", ""),
            "payload": sub.payload or "id-only",
        },
    )


def on_webhook_failed(*, dedup_key: str, headers: dict[str, str], reason: str, **_: Any) -> None:
    """One more failed attempt; after `CRENEAU_FHIR_SUBSCRIPTION_MAX_FAILURES` in a row the subscription
    is paused (status error, with the reason) and its queued notifications are withdrawn."""
    sub = _ours(dedup_key, headers)
    if sub is None:
        return
    now = clock.now()
    Subscription.objects.filter(pk=sub.pk).update(consecutive_failures=F("consecutive_failures") + 1, updated_at=now)
    failures = Subscription.objects.filter(pk=sub.pk).values_list("consecutive_failures", flat=True).first() or 0
    limit = settings.CRENEAU_FHIR_SUBSCRIPTION_MAX_FAILURES
    if failures < limit or sub.status not in LIVE:
        return
    error = reason[:200]  # shown on reads with the count (mappers/subscription.py), in the reader's language
    paused = Subscription.objects.filter(pk=sub.pk, status__in=LIVE).update(
        status=SubscriptionStatus.ERROR, error=error, updated_at=now
    )
    if not paused:
        return
    withdrawn = cancel_pending_webhooks(dedup_prefix=dedup_prefix(sub.pk), reason="subscription paused")
    audit_record(
        actor=Actor.system(Channel.API),
        action=Action.UPDATE,
        object_type="fhir_subscription",
        object_id=sub.pk,
        via="subscription_pause",
        changes={"status": [sub.status, SubscriptionStatus.ERROR], "error": error, "withdrawn": withdrawn},
    )
