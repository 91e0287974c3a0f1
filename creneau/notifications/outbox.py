"""The outbox: queue messages inside the caller's transaction; deliver them exactly once per channel
where the channel allows it.

Delivery of one row:
1. claim: one conditional UPDATE, pending-and-due (or sending-with-expired-lease) → sending, with a
   fresh claim token and a lease. Two workers cannot both win it.
2. send through the channel, passing the row id as idempotency key (SMS gateway `Idempotency-Key`,
   e-mail `Message-ID`).
3. mark: UPDATE … WHERE claim_token = ours → sent (or back to pending with backoff, or failed).

The lease is short (`CRENEAU_OUTBOX_LEASE_SECONDS`, 45 s) and renewed every third of it while the
channel is sending, so a slow send keeps its row and a worker that dies between 2 and 3 leaves the row
`sending` for at most one lease: the next sweep after it expires reclaims it and sends again with the
same idempotency key. Idempotent channels (SMS gateway, file
backend) deliver once; SMTP has no such key, so a crash in that window can duplicate one e-mail,
at most once per crash and at most `CRENEAU_OUTBOX_MAX_ATTEMPTS` times (docs/notifications.md)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import ipaddress
import logging
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import F, Q
from django.tasks import task
from django.utils.html import escape
from django_tasks_db.backend import DatabaseBackend

from creneau.booking.video import ROOM_PLACEHOLDER, room_url
from creneau.core import clock
from creneau.core.events import emit

from . import events
from . import ics as ics_module
from .models import Kind, MessageChannel, MessageStatus, OutboundMessage
from .rendering import new_code, render, render_sms_lines
from .secret_links import with_secret_link
from .sms import SendError, sms_backend

logger = logging.getLogger("creneau.notifications")

# Test seam: tests register a callable here to simulate a crash at a given point ("after_send").
_fault_hooks: dict[str, Callable[[OutboundMessage], None]] = {}


@contextlib.contextmanager
def fault_hook(point: str, hook: Callable[[OutboundMessage], None]) -> Iterator[None]:
    _fault_hooks[point] = hook
    try:
        yield
    finally:
        _fault_hooks.pop(point, None)


def _fault(point: str, message: OutboundMessage) -> None:
    hook = _fault_hooks.get(point)
    if hook is not None:
        hook(message)


@dataclasses.dataclass(frozen=True)
class Recipient:
    """Where a message goes. `user` is the account that will list it under "messages we sent you"."""

    user_id: uuid.UUID | None
    email: str
    phone: str
    language: str


def queue(
    *,
    kind: Kind,
    recipient: Recipient,
    context: dict[str, Any],
    dedup: str,
    time_zone: str | None = None,
    send_after: dt.datetime | None = None,
    appointment_id: uuid.UUID | None = None,
    ics: str = "",
    channels: Iterable[MessageChannel] = (MessageChannel.EMAIL, MessageChannel.SMS),
) -> list[OutboundMessage]:
    """Render and store one message per available channel, in the current transaction, all sharing
    one verification code. A `dedup` key already queued is skipped (hooks may be replayed)."""
    return store(
        compose(
            kind=kind,
            recipient=recipient,
            context=context,
            dedup=dedup,
            time_zone=time_zone,
            send_after=send_after,
            appointment_id=appointment_id,
            ics=ics,
            channels=channels,
        )
    )


def compose(
    *,
    kind: Kind,
    recipient: Recipient,
    context: dict[str, Any],
    dedup: str,
    time_zone: str | None = None,
    send_after: dt.datetime | None = None,
    appointment_id: uuid.UUID | None = None,
    ics: str = "",
    channels: Iterable[MessageChannel] = (MessageChannel.EMAIL, MessageChannel.SMS),
) -> list[OutboundMessage]:
    """Render one message per available channel, all sharing one verification code, without writing
    anything: `store` writes them (so an event's messages can be rendered before its transaction)."""
    wanted = set(channels)
    code = new_code()
    rendered = render(kind, recipient.language, {**context, "code": code}, time_zone=time_zone)
    when = send_after or clock.now()
    rows: list[OutboundMessage] = []
    common = {
        "kind": kind,
        "user_id": recipient.user_id,
        "language": recipient.language,
        "code": code,
        "appointment_id": appointment_id,
        "send_after": when,
    }
    if MessageChannel.EMAIL in wanted and recipient.email:
        rows.append(
            OutboundMessage(
                channel=MessageChannel.EMAIL,
                to_address=recipient.email,
                subject=rendered.subject,
                body_text=rendered.text,
                body_html=rendered.html,
                ics=ics,
                dedup_key=f"{dedup}:email",
                **common,
            )
        )
    if MessageChannel.SMS in wanted and recipient.phone and rendered.sms:
        rows.append(
            OutboundMessage(
                channel=MessageChannel.SMS,
                to_address=recipient.phone,
                body_text=rendered.sms,
                dedup_key=f"{dedup}:sms",
                **common,
            )
        )
    return rows


def store(rows: list[OutboundMessage], *, fresh: bool = False) -> list[OutboundMessage]:
    """Write composed messages in one INSERT, in the current transaction, with the tasks that wake
    the delivery (they commit together). Dedup keys already queued are skipped, unless the caller
    knows the event is `fresh` (its keys name a row created in this very transaction; the unique
    index still guards them)."""
    if not fresh:
        existing = set(
            OutboundMessage.objects.filter(dedup_key__in=[r.dedup_key for r in rows]).values_list(
                "dedup_key", flat=True
            )
        )
        rows = [r for r in rows if r.dedup_key not in existing]
    if not rows:
        return rows
    OutboundMessage.objects.bulk_create(rows)
    batches: dict[dt.datetime, list[str]] = {}
    for r in rows:
        batches.setdefault(r.send_after, []).append(str(r.pk))
    if isinstance(deliver_messages.get_backend(), DatabaseBackend):
        # Task rows are rows like the messages: written in the same transaction, they commit (or roll
        # back) with them, at no extra commit per write.
        _wake(batches)
    else:
        transaction.on_commit(lambda: _wake(batches))
    return rows


def _wake(batches: dict[dt.datetime, list[str]]) -> None:
    """Ask the task queue to deliver these rows (each batch at its time): database task rows in the
    writer's own transaction, other backends once it commits. Only a shortcut: the worker's sweep
    delivers due rows anyway, so a lost task delays a message, it never loses it."""
    now = clock.now()
    backend = deliver_messages.get_backend()
    if isinstance(backend, DatabaseBackend):
        # In the writer's transaction (one commit for the messages and their tasks); a failure there
        # fails the write itself, which is then reported, never half done.
        for when, ids in batches.items():
            if when <= now:
                deliver_messages.enqueue(message_ids=ids)
            else:
                deliver_messages.using(run_after=when).enqueue(message_ids=ids)
        return
    try:
        for when, ids in batches.items():
            if when <= now:
                deliver_messages.enqueue(message_ids=ids)
            elif backend.supports_defer:
                deliver_messages.using(run_after=when).enqueue(message_ids=ids)
    except Exception:  # the rows are committed; the sweep will deliver them
        logger.warning("outbox: could not enqueue a delivery task; the sweep will deliver", exc_info=False)


def queue_webhook(
    *, url: str, body: str, headers: dict[str, str], dedup: str, appointment_id: uuid.UUID | None
) -> list[OutboundMessage]:
    """Store one web hook (an HTTPS POST of `body` with `headers` to `url`) in the current transaction;
    delivered, retried with backoff and reported (`events.WEBHOOK_*`) like any message. A `dedup` key
    already queued is skipped."""
    row = OutboundMessage(
        kind=Kind.PARTNER_NOTIFICATION,
        channel=MessageChannel.WEBHOOK,
        to_address=url,
        language="",
        body_text=body,
        headers=headers,
        code=new_code(),
        appointment_id=appointment_id,
        dedup_key=dedup,
        send_after=clock.now(),
    )
    return store([row])


def cancel_pending_webhooks(*, dedup_prefix: str, reason: str) -> int:
    """Withdraw the not-yet-sent web hooks whose dedup key starts with `dedup_prefix` (a subscription
    stopped or paused)."""
    return OutboundMessage.objects.filter(
        channel=MessageChannel.WEBHOOK,
        dedup_key__startswith=dedup_prefix,
        status__in=(MessageStatus.PENDING, MessageStatus.SENDING),
    ).update(status=MessageStatus.CANCELLED, last_error=reason[:200], updated_at=clock.now())


def cancel_pending(*, appointment_id: uuid.UUID, kinds: Iterable[Kind]) -> int:
    """Withdraw not-yet-sent messages about an appointment (reminders of a cancelled booking)."""
    return OutboundMessage.objects.filter(
        appointment_id=appointment_id, kind__in=list(kinds), status=MessageStatus.PENDING
    ).update(status=MessageStatus.CANCELLED, updated_at=clock.now())


# --- delivery ------------------------------------------------------------------------------------


def _claimable(now: dt.datetime) -> Q:
    return Q(status=MessageStatus.PENDING, send_after__lte=now) | Q(
        status=MessageStatus.SENDING, lease_expires_at__lte=now
    )


def claim(message_id: uuid.UUID | str) -> uuid.UUID | None:
    """Atomically take one due message for this worker; None if someone else has it or it is not due."""
    now = clock.now()
    token = uuid.uuid4()
    won = OutboundMessage.objects.filter(_claimable(now), pk=message_id).update(
        status=MessageStatus.SENDING,
        claim_token=token,
        lease_expires_at=now + dt.timedelta(seconds=settings.CRENEAU_OUTBOX_LEASE_SECONDS),
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    return token if won else None


def due_ids(limit: int = 100) -> list[uuid.UUID]:
    return list(
        OutboundMessage.objects.filter(_claimable(clock.now()))
        .order_by("send_after")
        .values_list("pk", flat=True)[:limit]
    )


def deliver_due(*, limit: int = 100) -> int:
    """One sweep: claim and deliver every due message (including ones whose worker died)."""
    return deliver_ids(due_ids(limit))


def deliver_ids(ids: Iterable[uuid.UUID | str]) -> int:
    """Deliver these messages if they are due and nobody else holds them. Returns how many were sent."""
    sent = 0
    for message_id in ids:
        token = claim(message_id)
        if token is not None and _process(message_id, token):
            sent += 1
    return sent


def _finish(message_id: uuid.UUID | str, token: uuid.UUID, **fields: Any) -> bool:
    """Write the outcome only if our claim still stands (a reclaimed row belongs to its new worker)."""
    return bool(
        OutboundMessage.objects.filter(pk=message_id, claim_token=token).update(
            claim_token=None, lease_expires_at=None, updated_at=clock.now(), **fields
        )
    )


def _obsolete(message: OutboundMessage) -> bool:
    """Reminders of an appointment no longer booked or already begun, offers whose hold is gone."""
    from creneau.booking.models import Status

    appointment = message.appointment
    if message.kind == Kind.REMINDER:  # also: a worker outage must not remind of a past appointment
        return appointment is None or appointment.status != Status.BOOKED or appointment.start_at <= clock.now()
    if message.kind == Kind.WAITLIST_OFFER:
        return appointment is None or appointment.status != Status.HELD
    return False


def _process(message_id: uuid.UUID | str, token: uuid.UUID) -> bool:
    message = OutboundMessage.objects.select_related("appointment").get(pk=message_id)
    if message.attempts > settings.CRENEAU_OUTBOX_MAX_ATTEMPTS:
        _finish(message_id, token, status=MessageStatus.FAILED, last_error="gave up: too many attempts")
        logger.warning("outbox: message %s failed for good", message_id)
        return False
    if _obsolete(message):
        _finish(message_id, token, status=MessageStatus.CANCELLED)
        return False
    merge_same_day_sms(message)
    _fault("before_send", message)
    try:
        with _lease_kept(message_id, token):
            provider_id = _send(message)
    except SendError as exc:
        _retry_or_fail(message, token, exc.reason, permanent=exc.permanent)
        return False
    except Exception as exc:  # an SMTP error may quote the address: keep only the class name
        _retry_or_fail(message, token, type(exc).__name__, permanent=False)
        return False
    _fault("after_send", message)
    with transaction.atomic():
        done = _finish(
            message_id, token, status=MessageStatus.SENT, sent_at=clock.now(), provider_id=provider_id, last_error=""
        )
        if done and message.channel == MessageChannel.WEBHOOK:
            emit(events.WEBHOOK_DELIVERED, **_webhook_payload(message))
    logger.info("outbox: sent %s (%s, %s)", message_id, message.kind, message.channel)
    return True


def merge_same_day_sms(message: OutboundMessage) -> int:
    """One reminder SMS for several appointments of the same account on the same day (in the site's
    time zone): the first one due lists every time of that day, the other pending reminder SMS of that
    day are withdrawn. Like every SMS, it names no visit reason and no specialty. Returns how many
    were merged into this one."""
    from zoneinfo import ZoneInfo

    from creneau.booking.models import Appointment, Status

    if message.kind != Kind.REMINDER or message.channel != MessageChannel.SMS or message.user_id is None:
        return 0
    appointment = Appointment.objects.select_related("site").filter(pk=message.appointment_id).first()
    if appointment is None:
        return 0
    zone = ZoneInfo(appointment.site.time_zone)
    local = appointment.start_at.astimezone(zone)
    day_start = dt.datetime.combine(local.date(), dt.time(), tzinfo=zone)
    day_end = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    others = list(
        OutboundMessage.objects.filter(
            kind=Kind.REMINDER,
            channel=MessageChannel.SMS,
            status=MessageStatus.PENDING,
            user_id=message.user_id,
            appointment__status=Status.BOOKED,
            appointment__start_at__gte=day_start,
            appointment__start_at__lt=day_end,
        )
        .exclude(pk=message.pk)
        .select_related("appointment")
    )
    if not others:
        return 0
    starts = sorted({appointment.start_at, *(o.appointment.start_at for o in others if o.appointment)})
    text = render_sms_lines(
        "reminder_several", message.language, {"starts": starts, "code": message.code}, time_zone=str(zone)
    )
    message.body_text = text
    message.save(update_fields=["body_text", "updated_at"])
    OutboundMessage.objects.filter(pk__in=[o.pk for o in others], status=MessageStatus.PENDING).update(
        status=MessageStatus.CANCELLED, last_error="merged into one SMS", updated_at=clock.now()
    )
    return len(others)


def renew_lease(message_id: uuid.UUID | str, token: uuid.UUID) -> bool:
    """Extend our claim by one lease from now; False if the row was reclaimed meanwhile."""
    now = clock.now()
    return bool(
        OutboundMessage.objects.filter(pk=message_id, claim_token=token, status=MessageStatus.SENDING).update(
            lease_expires_at=now + dt.timedelta(seconds=settings.CRENEAU_OUTBOX_LEASE_SECONDS), updated_at=now
        )
    )


@contextlib.contextmanager
def _lease_kept(message_id: uuid.UUID | str, token: uuid.UUID) -> Iterator[None]:
    """Renew the claim every third of the lease while the body runs (a thread of its own, with its own
    database connection, opened only if the send outlasts the first interval)."""
    stop = threading.Event()
    interval = settings.CRENEAU_OUTBOX_LEASE_SECONDS / 3

    def keep() -> None:
        try:
            while not stop.wait(interval):
                if not renew_lease(message_id, token):
                    return
        except Exception as exc:  # the database gone too: the lease simply runs out
            logger.warning("outbox: could not renew the lease of %s (%s)", message_id, type(exc).__name__)
        finally:
            connection.close()

    keeper = threading.Thread(target=keep, name="outbox-lease", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()


def backoff(attempts: int) -> dt.timedelta:
    """Exponential: base, 2×base, 4×base… capped."""
    seconds = settings.CRENEAU_OUTBOX_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(seconds, settings.CRENEAU_OUTBOX_RETRY_MAX_SECONDS))


def _webhook_payload(message: OutboundMessage) -> dict[str, Any]:
    return {
        "message_id": message.pk,
        "dedup_key": message.dedup_key,
        "appointment_id": message.appointment_id,
        "headers": dict(message.headers or {}),
    }


def _retry_or_fail(message: OutboundMessage, token: uuid.UUID, reason: str, *, permanent: bool) -> None:
    final = permanent or message.attempts >= settings.CRENEAU_OUTBOX_MAX_ATTEMPTS
    with transaction.atomic():
        if final:
            done = _finish(message.pk, token, status=MessageStatus.FAILED, last_error=reason[:200])
            logger.warning("outbox: message %s failed (%s)", message.pk, reason)
        else:
            done = _finish(
                message.pk,
                token,
                status=MessageStatus.PENDING,
                send_after=clock.now() + backoff(message.attempts),
                last_error=reason[:200],
            )
            logger.info("outbox: message %s will be retried (%s)", message.pk, reason)
        if done and message.channel == MessageChannel.WEBHOOK:
            emit(events.WEBHOOK_FAILED, **_webhook_payload(message), reason=reason[:200], final=final)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A web hook is answered where it was sent: a redirect is a failure, never followed (it could
    point inside our network)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _refuse_internal_address(url: str) -> None:
    """A web hook's host must not resolve into our own networks (a public name pointing at a private,
    loopback or link-local address): checked when sending, not only when the URL was registered. This
    machine is allowed only by name, where `CRENEAU_FHIR_SUBSCRIPTION_LOCAL_HTTP` allows it."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host in _LOCAL_HOSTS and settings.CRENEAU_FHIR_SUBSCRIPTION_LOCAL_HTTP:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise SendError("name resolution failed") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            raise SendError("endpoint resolves to an internal address")


def _post_webhook(message: OutboundMessage) -> str:
    """POST the stored body and headers; 2xx is delivered (the status is the provider id), anything else
    a failure named by its HTTP status or the error's class (never the endpoint's answer)."""
    _refuse_internal_address(message.to_address)
    data = message.body_text.encode("utf-8")
    headers = {**(message.headers or {}), "User-Agent": "creneau-webhook", "X-Creneau-Delivery": str(message.pk)}
    request = urllib.request.Request(message.to_address, data=data, headers=headers, method="POST")  # noqa: S310
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=settings.CRENEAU_WEBHOOK_TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise SendError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise SendError(type(getattr(exc, "reason", exc)).__name__) from None
    if not 200 <= status < 300:
        raise SendError(f"HTTP {status}")
    return f"HTTP {status}"


def _send(message: OutboundMessage) -> str:
    if message.channel == MessageChannel.WEBHOOK:
        return _post_webhook(message)
    if message.channel == MessageChannel.SMS:
        return sms_backend().send(message_id=str(message.pk), to=message.to_address, text=message.body_text)
    message_id = f"<{message.pk}@{ics_module.domain()}>"
    body_text, body_html = with_secret_link(message)  # secret links get their token only now
    body_text, body_html, attachment = with_room_link(message, body_text, body_html)
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to_address],
        headers={"Message-ID": message_id, "Auto-Submitted": "auto-generated", "X-Creneau-Code": message.code},
    )
    if body_html:
        email.attach_alternative(body_html, "text/html")
    if attachment:
        email.attach("rendez-vous.ics", attachment, "text/calendar")
    email.send()
    return message_id


def with_room_link(message: OutboundMessage, body_text: str, body_html: str) -> tuple[str, str, str]:
    """The bodies and the calendar file with a teleconsultation's room link where the stored ones hold
    its placeholder: a copy of the outbox (dump, admin) holds no way into the room."""
    stored = (body_text, body_html, message.ics)
    if message.appointment_id is None or not any(ROOM_PLACEHOLDER in part for part in stored if part):
        return body_text, body_html, message.ics
    url = room_url(message.appointment_id)
    link = f'<a href="{escape(url)}">{escape(url)}</a>'
    return (
        body_text.replace(ROOM_PLACEHOLDER, url),
        body_html.replace(ROOM_PLACEHOLDER, link),
        ics_module.with_room_link(message.ics, ROOM_PLACEHOLDER, url) if message.ics else "",
    )


def retry_failed(ids: Iterable[uuid.UUID | str]) -> int:
    """Operator action: put failed messages back in the queue with a fresh attempt budget."""
    return OutboundMessage.objects.filter(pk__in=list(ids), status=MessageStatus.FAILED).update(
        status=MessageStatus.PENDING, attempts=0, send_after=clock.now(), updated_at=clock.now()
    )


def prune(*, limit: int = 1000) -> int:
    """Data minimisation: forget finished messages after `CRENEAU_OUTBOX_RETENTION_DAYS` (their
    bodies hold personal data; the account's "messages we sent you" shows that period)."""
    cutoff = clock.now() - dt.timedelta(days=settings.CRENEAU_OUTBOX_RETENTION_DAYS)
    finished = (MessageStatus.SENT, MessageStatus.CANCELLED, MessageStatus.FAILED)
    ids = list(
        OutboundMessage.objects.filter(status__in=finished, created_at__lt=cutoff).values_list("pk", flat=True)[:limit]
    )
    deleted, _ = OutboundMessage.objects.filter(pk__in=ids).delete()
    return deleted


@task()
def deliver_messages(message_ids: list[str]) -> int:
    """Deliver freshly queued (or now due) messages (the wake-up `_wake` enqueues)."""
    return deliver_ids(message_ids)
