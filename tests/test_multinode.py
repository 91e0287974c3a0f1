"""Two app nodes and two workers on one machine, sharing one PostgreSQL and one Redis, as in production:
a sign-in lockout earned on one node holds on the other, a hold taken through node 1 blocks node 2 and
leaves node 2's cached slot searches at once, a session opened on node 1 works on node 2, and two
workers delivering the same outbox send each message once (an SMS gateway in this test counts what
it receives).

The nodes are real gunicorn processes with the production settings (deploy/gunicorn.conf.py) and the
workers real `manage.py notifications_worker` processes."""

from __future__ import annotations

import datetime as dt
import http.client
import http.server
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher

from creneau.notifications.models import MessageStatus, OutboundMessage

from . import factories as f
from .cluster_support import BLIND_INDEX_KEY, FIELD_KEYS, environ, queue_sms, start_node, start_worker, stop, wait_up

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
# Under pytest-xdist each worker may run a cluster of its own: its own ports and Redis db.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % 2
NODE_PORTS = (8014 + 3 * _WORKER, 8015 + 3 * _WORKER)
GATEWAY_PORT = 8016 + 3 * _WORKER
REDIS_URL = os.environ.get("MULTINODE_REDIS_URL", f"redis://127.0.0.1:6379/{6 + _WORKER}")
PASSWORD = "correct horse battery 42"


@pytest.fixture(autouse=True)
def _production_keys_and_hashes(settings: Any) -> None:
    """Rows written here are read by the nodes: same field keys, and a password hasher production knows."""
    settings.CRENEAU_FIELD_KEYS = FIELD_KEYS
    settings.CRENEAU_BLIND_INDEX_KEY = BLIND_INDEX_KEY


def account() -> Any:
    user, _patient, _actor = f.patient_account()
    hasher = Argon2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save(update_fields=["password"])
    return user


@pytest.fixture(scope="module")
def cluster(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Flush the test's Redis db, start two gunicorn nodes and two workers (once for this module, on
    the test database); stop them afterwards."""
    import redis

    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).flushdb()
    env = environ(
        tmp_path_factory.mktemp("multinode"),
        redis_url=REDIS_URL,
        CRENEAU_SMS_BACKEND="creneau.notifications.sms.HttpGatewaySmsBackend",
        CRENEAU_SMS_GATEWAY_URL=f"http://127.0.0.1:{GATEWAY_PORT}/sms",
        CRENEAU_SMS_GATEWAY_TOKEN="multinode",
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for port in NODE_PORTS:
            procs.append(start_node(env, port))
        workers = [start_worker(env) for _ in range(2)]
        procs += workers
        deadline = time.monotonic() + 45
        for port, proc in zip(NODE_PORTS, procs, strict=False):
            wait_up(port, proc, deadline)
        yield {"nodes": NODE_PORTS, "workers": workers}
    finally:
        stop(procs)


class Browser:
    """A cookie-keeping HTTP client (plain HTTP: the production cookies are `Secure`, so they are kept
    by hand, as a TLS-terminating proxy would pass them)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def request(self, port: int, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "Accept-Language": "en"}
        body = None
        if form is not None:
            csrf = next((v for k, v in self.cookies.items() if k.endswith("csrftoken")), "")
            body = urllib.parse.urlencode({**form, "csrfmiddlewaretoken": csrf})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _sep, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, response.getheader("Location") or "", response.read().decode()

    def sign_in(self, port: int, email: str, password: str) -> int:
        self.request(port, "GET", "/accounts/login/")
        status, _location, _body = self.request(
            port, "POST", "/accounts/login/", {"username": email, "password": password}
        )
        return status


def test_a_session_opened_on_node_1_works_on_node_2(cluster: dict[str, Any]) -> None:
    user = account()
    node1, node2 = cluster["nodes"]
    browser = Browser()
    assert browser.sign_in(node1, user.email, PASSWORD) == 302
    status, _location, _body = browser.request(node2, "GET", "/account/")
    assert status == 200
    anonymous_status, location, _body = Browser().request(node2, "GET", "/account/")
    assert anonymous_status == 302 and "/login" in location


def test_a_lockout_earned_on_node_1_holds_on_node_2(cluster: dict[str, Any]) -> None:
    user = account()
    node1, node2 = cluster["nodes"]
    for i in range(5):  # failures spread over both nodes: one shared counter
        assert Browser().sign_in((node1, node2)[i % 2], user.email, "wrong password 1234") == 200
    # The right password is refused on both nodes now.
    assert Browser().sign_in(node2, user.email, PASSWORD) == 200
    assert Browser().sign_in(node1, user.email, PASSWORD) == 200
    # Another account is not affected.
    other = account()
    assert Browser().sign_in(node2, other.email, PASSWORD) == 302


def test_a_hold_taken_through_node_1_blocks_node_2(cluster: dict[str, Any]) -> None:
    org = f.organization()
    site = f.site(org)
    doc = f.practitioner(site)
    f.every_day(doc, site, start="08:00", end="18:00")
    motif = f.motif(doc, minutes=30)
    node1, node2 = cluster["nodes"]
    first, second = account(), account()
    tomorrow = dt.datetime.now(f.PARIS).date() + dt.timedelta(days=1)

    def slot(hour: int) -> dict[str, str]:
        start = dt.datetime(tomorrow.year, tomorrow.month, tomorrow.day, hour, 0, tzinfo=f.PARIS)
        return {"practitioner": str(doc.pk), "motif": str(motif.pk), "site": str(site.pk), "start": start.isoformat()}

    a, b = Browser(), Browser()
    assert a.sign_in(node1, first.email, PASSWORD) == 302
    assert b.sign_in(node2, second.email, PASSWORD) == 302
    status, location, _body = a.request(node1, "POST", "/book/hold/", slot(10))
    assert status == 302 and re.search(r"/book/[0-9a-f-]{36}/$", location), location
    status, _location, _body = b.request(node2, "POST", "/book/hold/", slot(10))
    assert status == 409
    # Node 2 books normally otherwise.
    status, location, _body = b.request(node2, "POST", "/book/hold/", slot(11))
    assert status == 302 and "/book/" in location


def test_a_slot_search_cached_on_node_2_stops_offering_a_slot_held_through_node_1(cluster: dict[str, Any]) -> None:
    from creneau.fhir.ids import pair_id
    from creneau.scheduling.services import availability_refresh

    org = f.organization()
    site = f.site(org)
    doc = f.practitioner(site)
    f.every_day(doc, site, start="08:00", end="18:00")
    motif = f.motif(doc, minutes=30)
    availability_refresh(practitioner_ids=[doc.pk])
    node1, node2 = cluster["nodes"]
    tomorrow = dt.datetime.now(f.PARIS).date() + dt.timedelta(days=1)
    ten = dt.datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 0, tzinfo=f.PARIS)
    query = urllib.parse.urlencode(
        [
            ("schedule", f"Schedule/{pair_id(doc.pk, site.pk)}"),
            ("start", f"ge{ten.isoformat()}"),
            ("start", f"lt{(ten + dt.timedelta(hours=1)).isoformat()}"),
        ]
    )

    def starts(port: int) -> list[str]:
        status, _location, body = Browser().request(port, "GET", f"/fhir/R4/Slot?{query}")
        assert status == 200, body
        return [e["resource"]["start"] for e in json.loads(body)["entry"]]

    def utc(minutes: int) -> str:
        return (ten + dt.timedelta(minutes=minutes)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert starts(node2) == [utc(0), utc(30)]  # now in the shared cache
    browser = Browser()
    assert browser.sign_in(node1, account().email, PASSWORD) == 302
    status, _location, _body = browser.request(
        node1,
        "POST",
        "/book/hold/",
        {"practitioner": str(doc.pk), "motif": str(motif.pk), "site": str(site.pk), "start": ten.isoformat()},
    )
    assert status == 302
    assert starts(node2) == [utc(30)]


class _Gateway(http.server.BaseHTTPRequestHandler):
    received: list[str] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        key = self.headers.get("Idempotency-Key", "")
        with self.lock:
            self.received.append(key)
        time.sleep(0.01)  # a real gateway takes a moment: the workers overlap
        body = json.dumps({"id": f"gw-{key}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_two_workers_send_each_outbox_message_once(cluster: dict[str, Any]) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", GATEWAY_PORT), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Gateway.received = []
    try:
        ids = queue_sms(60, "multinode")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if OutboundMessage.objects.filter(pk__in=ids, status=MessageStatus.SENT).count() == len(ids):
                break
            time.sleep(0.2)
        time.sleep(1)  # anything sent late would show up at the gateway now
        counts = Counter(k for k in _Gateway.received if k in ids)
        assert set(counts) == ids, "every message reached the gateway"
        assert max(counts.values()) == 1, "no message was sent twice"
        assert all(w.poll() is None for w in cluster["workers"]), "both workers were running throughout"
    finally:
        server.shutdown()
        server.server_close()
