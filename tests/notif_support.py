"""Helpers for the notifications tests: book through the real services, run the real worker code,
and a tiny local SMS gateway (HTTP, deduplicating on Idempotency-Key like real gateways do)."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

from creneau.booking import services
from creneau.booking.models import Appointment
from creneau.booking.services import SlotRef
from creneau.notifications.models import MessageStatus, OutboundMessage

from .personas import World


def ref(world: World, start: dt.datetime) -> SlotRef:
    return SlotRef(world.doc.pk, world.motif.pk, world.site.pk, start)


def book(world: World, start: dt.datetime, *, actor: Any = None, patient: Any = None) -> Appointment:
    return services.appointment_book(
        actor=actor or world.patient_actor, slot=ref(world, start), patient_id=(patient or world.patient).pk
    )


def messages(**filters: Any) -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(**filters).order_by("send_after", "kind", "channel"))


def pending(**filters: Any) -> list[OutboundMessage]:
    return messages(status=MessageStatus.PENDING, **filters)


class Gateway:
    """A local stand-in for an SMS provider: records every request, delivers once per idempotency key."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.delivered: dict[str, dict[str, Any]] = {}
        self.fail_with: int | None = None
        self.lock = threading.Lock()

    def handle(self, handler: http.server.BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        key = handler.headers.get("Idempotency-Key", "")
        with self.lock:
            self.requests.append({"key": key, "auth": handler.headers.get("Authorization"), **body})
            if self.fail_with:
                return self.fail_with, {"error": "nope"}
            if key not in self.delivered:
                self.delivered[key] = {"id": f"gw-{len(self.delivered) + 1}", **body}
            return 200, {"id": self.delivered[key]["id"]}


@contextlib.contextmanager
def sms_gateway(settings: Any) -> Iterator[Gateway]:
    gateway = Gateway()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            status, payload = gateway.handle(self)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.CRENEAU_SMS_BACKEND = "creneau.notifications.sms.HttpGatewaySmsBackend"
    settings.CRENEAU_SMS_GATEWAY_URL = f"http://127.0.0.1:{server.server_address[1]}/v1/sms"
    settings.CRENEAU_SMS_GATEWAY_TOKEN = "test-token"
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()


def run_tasks() -> int:
    """Run the background tasks waiting in the database queue, as the worker would (each once)."""
    from django.tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    ran = 0
    for result in list(DBTaskResult.objects.ready()):
        result.task.call(*result.args_kwargs["args"], **result.args_kwargs["kwargs"])
        DBTaskResult.objects.filter(pk=result.pk).update(status=TaskResultStatus.SUCCESSFUL)
        ran += 1
    return ran


def deliver() -> int:
    """What the worker does for the tests: run queued tasks, then send every due outbox message
    (e-mails land in `django.core.mail.outbox`)."""
    from creneau.notifications import outbox

    run_tasks()
    return outbox.deliver_due()
