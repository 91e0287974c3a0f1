"""Partners' subscriptions (FHIR R4 rest-hook) as a partner meets them: a real HTTP receiver on this
machine gets signed notifications of real bookings, cancellations, moves and no-shows; the criteria
are limited to what the client was granted; failures are retried, then the subscription is paused
with its reason; every delivery is in the audit trail."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

from creneau.audit.models import AuditAccess, AuditEvent
from creneau.booking.models import Status
from creneau.booking.services import appointment_mark, appointment_reschedule
from creneau.core import clock
from creneau.fhir.models import Subscription
from creneau.fhir.services import api_grant_revoke
from creneau.notifications import outbox
from creneau.notifications.models import MessageChannel, MessageStatus, OutboundMessage

from .fhir_support import Api, Tenant, booking_body, grant, register_client, reset_rate_limits, tenant, token

SECRET_URL = "https://creneau.fr/fhir/StructureDefinition/subscription-secret"


class Receiver:
    """A partner's endpoint: an HTTP server in a thread that records each request and answers `status`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                receiver.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/creneau"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[tuple[str, str]]:
        return [(r["headers"]["X-Creneau-Event"], r["headers"]["X-Creneau-Resource"]) for r in self.requests]


def verified(request: dict[str, Any], secret: str) -> bool:
    """What a partner does with each notification: recompute the signature with its secret."""
    h = request["headers"]
    message = f"{h['X-Creneau-Timestamp']}.{h['X-Creneau-Event']}.{h['X-Creneau-Resource']}.{request['body']}"
    expected = "sha256=" + hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, h["X-Creneau-Signature"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def setup(db: None, monday_morning: None, client: Client) -> dict[str, Any]:
    reset_rate_limits()
    a = tenant("Cabinet A")
    b = tenant("Cabinet B")
    client_id, secret = register_client()
    grant(client_id, a.org)
    return {"a": a, "b": b, "api": Api(client, token(client, client_id, secret)), "client_id": client_id}


def subscription_body(criteria: str, endpoint: str, *, payload: str | None = "application/fhir+json") -> dict[str, Any]:
    channel: dict[str, Any] = {"type": "rest-hook", "endpoint": endpoint}
    if payload:
        channel["payload"] = payload
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Sync",
        "criteria": criteria,
        "channel": channel,
    }


def subscribe(api: Api, criteria: str, endpoint: str, **kwargs: Any) -> tuple[dict[str, Any], str]:
    response = api.post("Subscription", subscription_body(criteria, endpoint, **kwargs))
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    secret = next(e["valueString"] for e in body["extension"] if e["url"] == SECRET_URL)
    return body, secret


def free_slot(api: Api, a: Tenant, n: int = 0) -> str:
    found = api.get("Slot", {"schedule": f"Schedule/{a.role_id}", "status": "free", "_count": 5}).json()
    return str(found["entry"][n]["resource"]["id"])


def test_a_partner_is_told_of_bookings_cancellations_moves_and_no_shows_with_signed_notifications(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    created, secret = subscribe(api, f"Appointment?actor=Practitioner/{a.doc.pk}", receiver.url)
    assert created["status"] == "requested"
    assert len(secret) >= 40
    # The handshake: an empty signed POST; the answer 200 makes the subscription active.
    outbox.deliver_due()
    assert receiver.events() == [("handshake", f"Subscription/{created['id']}")]
    assert receiver.requests[0]["body"] == ""
    assert verified(receiver.requests[0], secret)
    read = api.get(f"Subscription/{created['id']}").json()
    assert read["status"] == "active"
    assert "extension" not in read  # the secret was shown once

    # A booking through the API.
    booked = api.post("Appointment", booking_body(free_slot(api, a), a.patient.pk))
    assert booked.status_code == 201, booked.content
    new_id = booked.json()["id"]
    outbox.deliver_due()
    last = receiver.requests[-1]
    assert receiver.events()[-1] == ("appointment.booked", f"Appointment/{new_id}")
    assert verified(last, secret)
    assert last["headers"]["Content-Type"].startswith("application/fhir+json")
    resource = json.loads(last["body"])
    assert resource["resourceType"] == "Appointment" and resource["id"] == new_id
    assert resource["status"] == "booked"
    # A tampered body no longer verifies.
    assert not verified({**last, "body": last["body"].replace("booked", "cancelled")}, secret)

    # Cancelled through the API.
    current = api.get(f"Appointment/{new_id}").json()
    current["status"] = "cancelled"
    assert api.put(f"Appointment/{new_id}", current).status_code == 200
    # Moved by the practice (the existing appointment, tomorrow 09:00, to 10:00).
    moved = appointment_reschedule(
        actor=a.staff, appointment_id=a.appointment.pk, new_start=a.appointment.start_at + dt.timedelta(hours=1)
    )
    outbox.deliver_due()
    assert sorted(receiver.events()[2:]) == sorted(
        [
            ("appointment.cancelled", f"Appointment/{new_id}"),
            ("appointment.moved", f"Appointment/{a.appointment.pk}"),
            ("appointment.moved", f"Appointment/{moved.pk}"),
        ]
    )
    statuses = {json.loads(r["body"])["id"]: json.loads(r["body"])["status"] for r in receiver.requests[2:]}
    assert statuses == {new_id: "cancelled", str(a.appointment.pk): "cancelled", str(moved.pk): "booked"}

    # The patient did not come: the practice marks the no-show once the appointment has started.
    with clock.frozen_at(moved.start_at + dt.timedelta(minutes=20)):
        appointment_mark(actor=a.staff, appointment_id=moved.pk, status=Status.NO_SHOW)
        outbox.deliver_due()
    assert receiver.events()[-1] == ("appointment.no_show", f"Appointment/{moved.pk}")
    assert json.loads(receiver.requests[-1]["body"])["status"] == "noshow"
    assert all(verified(r, secret) for r in receiver.requests)

    # Each delivery of an appointment is a disclosure to the client, in the audit trail with its patient.
    rows = AuditEvent.objects.filter(via="fhir_subscription_notify").order_by("id")
    assert [(r.api_client_id, r.object_id) for r in rows] == [
        (setup["client_id"], ident.removeprefix("Appointment/")) for _e, ident in receiver.events()[1:]
    ]
    assert AuditAccess.objects.filter(event__in=rows, patient_id=a.patient.pk).count() == rows.count()


def test_an_id_only_subscription_gets_an_empty_signed_body_naming_the_appointment(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    created, secret = subscribe(api, f"Appointment?location={a.site.pk}", receiver.url, payload=None)
    assert "payload" not in created["channel"]
    booked = api.post("Appointment", booking_body(free_slot(api, a), a.patient.pk)).json()
    outbox.deliver_due()
    last = receiver.requests[-1]
    assert receiver.events()[-1] == ("appointment.booked", f"Appointment/{booked['id']}")
    assert last["body"] == ""
    assert verified(last, secret)
    event = AuditEvent.objects.get(via="fhir_subscription_notify")
    assert event.changes["payload"] == "id-only"


def test_a_client_cannot_subscribe_to_another_organizations_agenda_or_site(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    api: Api = setup["api"]
    b: Tenant = setup["b"]
    for criteria in (
        f"Appointment?actor=Practitioner/{b.doc.pk}",
        f"Appointment?practitioner={b.doc.pk}",
        f"Appointment?location=Location/{b.site.pk}",
        "Appointment?practitioner=7f0c2b8e-1111-4c1b-9b1a-000000000000",
    ):
        response = api.post("Subscription", subscription_body(criteria, receiver.url))
        assert response.status_code == 403, (criteria, response.content)
        assert response.json()["resourceType"] == "OperationOutcome"
    assert not Subscription.objects.exists()
    assert not OutboundMessage.objects.filter(channel=MessageChannel.WEBHOOK).exists()
    # B's bookings reach nobody.
    b.appointment.refresh_from_db()
    assert receiver.requests == []


@pytest.mark.parametrize(
    "criteria",
    [
        "Appointment",
        "Patient?name=x",
        "Appointment?status=booked",
        "Appointment?actor=Patient/1",
        "Appointment?a=1&b=2",
    ],
)
def test_unsupported_criteria_are_refused_and_nothing_is_stored(
    setup: dict[str, Any], receiver: Receiver, criteria: str
) -> None:
    response = setup["api"].post("Subscription", subscription_body(criteria, receiver.url))
    assert response.status_code == 400, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://partner.example/hook",
        "ftp://partner.example/",
        "https://10.1.2.3/hook",
        "https://user:pw@partner.example/",
    ],
)
def test_the_endpoint_must_be_https_on_the_internet(setup: dict[str, Any], endpoint: str) -> None:
    a: Tenant = setup["a"]
    response = setup["api"].post("Subscription", subscription_body(f"Appointment?practitioner={a.doc.pk}", endpoint))
    assert response.status_code == 400, response.content
    assert not Subscription.objects.exists()


@override_settings(CRENEAU_FHIR_SUBSCRIPTION_LOCAL_HTTP=False)
def test_in_production_this_machine_is_not_an_endpoint(setup: dict[str, Any], receiver: Receiver) -> None:
    a: Tenant = setup["a"]
    response = setup["api"].post(
        "Subscription", subscription_body(f"Appointment?practitioner={a.doc.pk}", receiver.url)
    )
    assert response.status_code == 400
    assert not Subscription.objects.exists()


@override_settings(CRENEAU_OUTBOX_RETRY_BASE_SECONDS=0, CRENEAU_FHIR_SUBSCRIPTION_MAX_FAILURES=3)
def test_failed_deliveries_are_retried_then_the_subscription_is_paused_with_its_reason(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    created, _secret = subscribe(api, f"Appointment?actor=Practitioner/{a.doc.pk}", receiver.url)
    outbox.deliver_due()  # the handshake succeeds
    receiver.status = 500
    booked = api.post("Appointment", booking_body(free_slot(api, a), a.patient.pk)).json()
    outbox.deliver_due()
    outbox.deliver_due()  # retried (no backoff in this test)
    assert receiver.events()[1:] == [("appointment.booked", f"Appointment/{booked['id']}")] * 2
    assert api.get(f"Subscription/{created['id']}").json()["status"] == "active"
    # The endpoint comes back before the limit: the count of failures starts again.
    receiver.status = 204
    outbox.deliver_due()
    assert len(receiver.requests) == 4
    assert Subscription.objects.get(pk=created["id"]).consecutive_failures == 0
    assert AuditEvent.objects.filter(via="fhir_subscription_notify").count() == 1  # delivered once

    receiver.status = 503
    current = api.get(f"Appointment/{booked['id']}").json()
    current["status"] = "cancelled"
    api.put(f"Appointment/{booked['id']}", current)
    for _ in range(5):
        outbox.deliver_due()
    assert len(receiver.requests) == 4 + 3  # three attempts, then paused
    read = api.get(f"Subscription/{created['id']}").json()
    assert read["status"] == "error"
    assert "503" in read["error"] and "3" in read["error"]
    assert OutboundMessage.objects.filter(channel=MessageChannel.WEBHOOK, status=MessageStatus.PENDING).count() == 0
    assert AuditEvent.objects.filter(via="subscription_pause", object_id=created["id"]).count() == 1
    # A paused subscription gets nothing more.
    receiver.status = 200
    unseen = api.post("Appointment", booking_body(free_slot(api, a, 1), a.patient.pk))
    assert unseen.status_code == 201, unseen.content
    outbox.deliver_due()
    assert len(receiver.requests) == 7
    assert AuditEvent.objects.filter(via="fhir_subscription_notify").count() == 1  # nothing undelivered audited
    # The partner fixed its endpoint and resumes: a new handshake, then it is active again.
    resumed = api.put(f"Subscription/{created['id']}", {**read, "status": "requested"})
    assert resumed.status_code == 200, resumed.content
    assert resumed.json()["status"] == "requested" and "error" not in resumed.json()
    outbox.deliver_due()
    assert receiver.events()[-1] == ("handshake", f"Subscription/{created['id']}")
    assert api.get(f"Subscription/{created['id']}").json()["status"] == "active"
    again = api.post("Appointment", booking_body(free_slot(api, a, 2), a.patient.pk)).json()
    outbox.deliver_due()
    assert receiver.events()[-1] == ("appointment.booked", f"Appointment/{again['id']}")


def test_a_revoked_grant_stops_the_notifications_at_once(setup: dict[str, Any], receiver: Receiver) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    slot = free_slot(api, a)
    subscribe(api, f"Appointment?actor=Practitioner/{a.doc.pk}", receiver.url)
    outbox.deliver_due()
    from creneau.core.actors import Actor

    grant_row = a.org.api_grants.get(revoked_at__isnull=True)
    api_grant_revoke(actor=Actor.system(), grant_id=grant_row.pk)
    from creneau.booking.services import SlotRef, appointment_book
    from creneau.fhir.ids import parse_slot_id

    motif_id, site_id, start = parse_slot_id(slot)
    appointment_book(actor=a.staff, slot=SlotRef(a.doc.pk, motif_id, site_id, start), patient_id=a.patient.pk)
    outbox.deliver_due()
    assert receiver.events() == [receiver.events()[0]]  # the handshake only


def test_a_client_lists_reads_and_deletes_only_its_own_subscriptions(
    setup: dict[str, Any], receiver: Receiver, client: Client
) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    b: Tenant = setup["b"]
    created, _secret = subscribe(api, f"Appointment?practitioner={a.doc.pk}", receiver.url)
    other_id, other_secret = register_client("Autre logiciel")
    grant(other_id, b.org)
    other = Api(client, token(client, other_id, other_secret))
    assert other.get(f"Subscription/{created['id']}").status_code == 404
    assert other.delete(f"Subscription/{created['id']}").status_code == 404
    assert other.get("Subscription").json()["total"] == 0
    listed = api.get("Subscription", {"status": "requested"}).json()
    assert [e["resource"]["id"] for e in listed["entry"]] == [created["id"]]
    assert api.delete(f"Subscription/{created['id']}").status_code == 200
    assert api.get(f"Subscription/{created['id']}").status_code == 404
    assert AuditEvent.objects.filter(via="subscription_delete", object_id=created["id"]).count() == 1
    # Deleted before its handshake went: nothing is sent, and later bookings reach nobody.
    assert api.post("Appointment", booking_body(free_slot(api, a), a.patient.pk)).status_code == 201
    outbox.deliver_due()
    assert receiver.requests == []


def test_creating_a_subscription_needs_the_appointment_search_scope(
    setup: dict[str, Any], receiver: Receiver, client: Client
) -> None:
    a: Tenant = setup["a"]
    cid, secret = register_client("Annuaire")
    grant(cid, a.org, "system/Slot.rs system/Practitioner.rs")
    api = Api(client, token(client, cid, secret))
    response = api.post("Subscription", subscription_body(f"Appointment?practitioner={a.doc.pk}", receiver.url))
    assert response.status_code == 403
    assert not Subscription.objects.exists()


def test_the_capability_statement_lists_subscriptions(setup: dict[str, Any]) -> None:
    body = setup["api"].get("metadata").json()
    entry = next(r for r in body["rest"][0]["resource"] if r["type"] == "Subscription")
    assert {i["code"] for i in entry["interaction"]} == {"read", "search-type", "create", "update", "delete"}


def test_a_partner_switches_its_subscription_off_and_can_change_nothing_but_the_status(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    api: Api = setup["api"]
    a: Tenant = setup["a"]
    created, _secret = subscribe(api, f"Appointment?practitioner={a.doc.pk}", receiver.url)
    outbox.deliver_due()
    current = api.get(f"Subscription/{created['id']}").json()
    moved = {**current, "criteria": f"Appointment?location={a.site.pk}"}
    assert api.put(f"Subscription/{created['id']}", moved).status_code == 422
    elsewhere = {**current, "channel": {**current["channel"], "endpoint": "https://elsewhere.example/"}}
    assert api.put(f"Subscription/{created['id']}", elsewhere).status_code == 422
    assert api.put(f"Subscription/{created['id']}", {**current, "status": "error"}).status_code == 422
    off = api.put(f"Subscription/{created['id']}", {**current, "status": "off"})
    assert off.status_code == 200 and off.json()["status"] == "off"
    assert api.get("Subscription", {"status": "off"}).json()["total"] == 1
    assert api.post("Appointment", booking_body(free_slot(api, a), a.patient.pk)).status_code == 201
    outbox.deliver_due()
    assert receiver.events() == [("handshake", f"Subscription/{created['id']}")]
    assert AuditEvent.objects.filter(via="subscription_update", object_id=created["id"]).count() == 1


def test_an_endpoint_whose_name_leads_inside_our_network_is_not_called(
    setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    a: Tenant = setup["a"]
    subscribe(setup["api"], f"Appointment?practitioner={a.doc.pk}", "https://partner.example/hook")
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda *args, **kwargs: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 443))]
    )
    outbox.deliver_due()
    row = OutboundMessage.objects.get(channel=MessageChannel.WEBHOOK)
    assert row.status == MessageStatus.PENDING and row.last_error == "endpoint resolves to an internal address"


def test_an_endpoint_that_is_not_text_is_a_400_not_a_crash(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    body = subscription_body(f"Appointment?practitioner={a.doc.pk}", "https://partner.example/hook")
    body["channel"]["endpoint"] = {}
    response = setup["api"].post("Subscription", body)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert not Subscription.objects.exists()
