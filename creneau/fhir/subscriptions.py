"""FHIR R4 Subscriptions (rest-hook): a partner is told when an appointment of an agenda or a site it was
granted is booked, moved, cancelled or marked no-show, instead of polling.

A subscription names one filter (`Appointment?actor=Practitioner/<id>`, `Appointment?practitioner=<id>`,
`Appointment?location=<id>` or `Appointment?actor=Location/<id>`), which must be visible through the
client's grants for appointment searches (`access_practitioner` / `access_site` over those
organizations): anything else is refused and nothing is stored. Each event is checked again against the
grants of the moment (`notify.py`). The endpoint is an HTTPS URL (plain HTTP only to this machine, and
only where `CRENEAU_FHIR_SUBSCRIPTION_LOCAL_HTTP` allows it). The signing secret is returned once, by the
creation; it is kept encrypted because every notification is signed with it.

Every write records its audit row in its own transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import secrets
import uuid
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from oauth2_provider.models import get_application_model

from creneau.audit.models import Action
from creneau.audit.services import audit_record
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind
from creneau.core.errors import InvalidInput, NotFound, PermissionDenied, PolicyViolation
from creneau.core.ids import parse_id
from creneau.core.suspension import ensure_not_suspended
from creneau.notifications.outbox import cancel_pending_webhooks

from . import notify
from .models import Subscription, SubscriptionStatus
from .selectors import access_practitioner, access_site, access_subscription

# How many subscriptions one client may keep (a partner needs one per agenda or site it follows).
MAX_PER_CLIENT = 200
PAYLOADS = ("", "application/fhir+json", "application/json")
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# (search parameter, reference type) -> what the criteria follow: a practitioner's agenda or a site.
_TARGETS = {
    ("actor", "Practitioner"): "agenda",
    ("practitioner", ""): "agenda",
    ("practitioner", "Practitioner"): "agenda",
    ("actor", "Location"): "site",
    ("location", ""): "site",
    ("location", "Location"): "site",
}


@dataclasses.dataclass(frozen=True)
class Criteria:
    """The one filter of a subscription: a practitioner's agenda or a site."""

    practitioner_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None

    @property
    def text(self) -> str:
        if self.practitioner_id is not None:
            return f"Appointment?actor=Practitioner/{self.practitioner_id}"
        return f"Appointment?location=Location/{self.site_id}"


def parse_criteria(text: str) -> Criteria:
    """`Appointment?` with exactly one of actor=Practitioner/<id>, actor=Location/<id>, practitioner=<id>,
    location=<id> (a reference with or without its type). Anything else: a 400 naming what is accepted."""
    unsupported = _(
        "Supported criteria: Appointment?actor=Practitioner/<id>, Appointment?practitioner=<id>, "
        "Appointment?location=<id> or Appointment?actor=Location/<id>, one filter only."
    )
    rtype, sep, query = (text or "").strip().partition("?")
    if rtype != "Appointment" or not sep:
        raise InvalidInput(unsupported)
    pairs = parse_qsl(query, keep_blank_values=True)
    if len(pairs) != 1:
        raise InvalidInput(unsupported)
    name, value = pairs[0]
    kind, slash, rid = value.rpartition("/")
    if not slash:
        kind, rid = "", value
    target = _TARGETS.get((name, kind))
    if target is None:
        raise InvalidInput(unsupported)
    try:
        object_id = parse_id(rid)
    except NotFound:
        raise InvalidInput(unsupported) from None
    return Criteria(practitioner_id=object_id) if target == "agenda" else Criteria(site_id=object_id)


def check_endpoint(url: str) -> str:
    """The endpoint as it will be called: an absolute https:// URL (http:// only to this machine where
    `CRENEAU_FHIR_SUBSCRIPTION_LOCAL_HTTP` allows it), without credentials or fragment, not an address
    of a private network."""
    bad = _("The endpoint must be an absolute https:// URL (at most 254 characters, no user name or fragment).")
    text = (url or "").strip()
    if len(text) > 254:
        raise InvalidInput(bad)
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError:
        raise InvalidInput(bad) from None
    if not host or parts.username or parts.password or parts.fragment or parts.scheme not in ("https", "http"):
        raise InvalidInput(bad)
    local = host in _LOCAL_HOSTS
    if local and not settings.CRENEAU_FHIR_SUBSCRIPTION_LOCAL_HTTP:
        raise InvalidInput(_("The endpoint must be reachable from the internet, not this server."))
    if parts.scheme == "http" and not local:
        raise InvalidInput(bad)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return text
    if not local and (address.is_private or address.is_loopback or address.is_link_local or address.is_reserved):
        raise InvalidInput(_("The endpoint must be reachable from the internet, not this server."))
    return text


def _client_actor(actor: Actor) -> Actor:
    if actor.kind != ActorKind.API_CLIENT or not actor.api_client_id:
        raise PermissionDenied(_("Only an API client can subscribe."))
    return actor


@transaction.atomic
def subscription_create(
    *,
    actor: Actor,
    criteria: str,
    endpoint: str,
    payload: str = "",
    reason: str = "",
    end: dt.datetime | None = None,
) -> tuple[Subscription, str]:
    """Subscribe the client to the appointments its criteria name; returns the subscription (status
    requested: a first empty, signed notification, the handshake, makes it active once the endpoint
    answers 2xx) and its signing secret, which is never shown again. `actor.organization_ids` are the
    organizations that granted the client appointment searches: the criteria must be one of their
    agendas or sites, else PermissionDenied and nothing is written."""
    _client_actor(actor)
    ensure_not_suspended(actor)
    wanted = parse_criteria(criteria)
    url = check_endpoint(endpoint)
    if payload not in PAYLOADS:
        raise InvalidInput(_("The payload must be empty (identifiers only) or application/fhir+json."))
    if end is not None and end <= clock.now():
        raise InvalidInput(_("The end of a subscription must be in the future."))
    orgs = actor.organization_ids
    refused = _("This client may not subscribe to this agenda or site: no grant of its organization covers it.")
    try:
        if wanted.practitioner_id is not None:
            access_practitioner(orgs, wanted.practitioner_id)
        else:
            access_site(orgs, wanted.site_id)  # type: ignore[arg-type]
    except NotFound:
        raise PermissionDenied(refused) from None
    app = get_application_model().objects.filter(client_id=actor.api_client_id).first()
    if app is None:
        raise PermissionDenied(refused)
    if Subscription.objects.filter(application=app, deleted_at__isnull=True).count() >= MAX_PER_CLIENT:
        raise PolicyViolation(_("This client has too many subscriptions; delete some first."))
    secret = secrets.token_urlsafe(32)
    sub = Subscription.objects.create(
        application=app,
        criteria=wanted.text,
        practitioner_id=wanted.practitioner_id,
        site_id=wanted.site_id,
        endpoint=url,
        payload="application/fhir+json" if payload else "",
        reason=(reason or "").strip()[:200],
        end=end,
        secret=secret,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="fhir_subscription",
        object_id=sub.pk,
        via="subscription_create",
        changes={"criteria": [None, sub.criteria], "endpoint": [None, url], "payload": [None, sub.payload]},
    )
    notify.queue_handshake(sub)
    return sub, secret


@transaction.atomic
def subscription_delete(*, actor: Actor, subscription_id: uuid.UUID | str) -> Subscription:
    """Stop a subscription of the client: status off, nothing more is sent (pending notifications are
    withdrawn); it no longer appears in reads or searches."""
    _client_actor(actor)
    sub = access_subscription(actor, subscription_id, for_update=True)
    now = clock.now()
    Subscription.objects.filter(pk=sub.pk).update(status=SubscriptionStatus.OFF, deleted_at=now, updated_at=now)
    withdrawn = cancel_pending_webhooks(dedup_prefix=notify.dedup_prefix(sub.pk), reason="subscription deleted")
    audit_record(
        actor=actor,
        action=Action.DELETE,
        object_type="fhir_subscription",
        object_id=sub.pk,
        via="subscription_delete",
        changes={"status": [sub.status, SubscriptionStatus.OFF], "withdrawn": withdrawn},
    )
    sub.refresh_from_db()
    return sub


@transaction.atomic
def subscription_update_status(*, actor: Actor, subscription_id: uuid.UUID | str, status: str) -> Subscription:
    """The client switches its subscription `off` (nothing more is sent, queued notifications are
    withdrawn) or back on (`requested`: after a pause or an off, the failures are forgotten and a new
    handshake makes it active once the endpoint answers). The same status again changes nothing."""
    _client_actor(actor)
    ensure_not_suspended(actor)
    sub = access_subscription(actor, subscription_id, for_update=True)
    wanted = SubscriptionStatus.REQUESTED if status == SubscriptionStatus.ACTIVE else status
    if wanted not in (SubscriptionStatus.REQUESTED, SubscriptionStatus.OFF):
        raise PolicyViolation(_("A subscription's status can be set to off, or to requested to resume it."))
    live = sub.status in (SubscriptionStatus.REQUESTED, SubscriptionStatus.ACTIVE)
    if (wanted == SubscriptionStatus.OFF and sub.status == SubscriptionStatus.OFF) or (
        wanted == SubscriptionStatus.REQUESTED and live
    ):
        return sub
    now = clock.now()
    before = sub.status
    withdrawn = 0
    if wanted == SubscriptionStatus.OFF:
        Subscription.objects.filter(pk=sub.pk).update(status=SubscriptionStatus.OFF, updated_at=now)
        withdrawn = cancel_pending_webhooks(dedup_prefix=notify.dedup_prefix(sub.pk), reason="subscription off")
    else:
        Subscription.objects.filter(pk=sub.pk).update(
            status=SubscriptionStatus.REQUESTED, consecutive_failures=0, error="", updated_at=now
        )
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="fhir_subscription",
        object_id=sub.pk,
        via="subscription_update",
        changes={"status": [before, wanted], "withdrawn": withdrawn},
    )
    sub.refresh_from_db()
    if wanted == SubscriptionStatus.REQUESTED:
        notify.queue_handshake(sub)
    return sub
