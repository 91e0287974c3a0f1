"""Faults against real processes: two gunicorn nodes and a notification worker with the production
settings, reaching PostgreSQL and Redis through TCP proxies this test cuts (tests/faultproxy.py).

Each scenario books through the FHIR API with an Idempotency-Key per booking, as a partner does, and
checks what a partner and a patient would see: no 500, 503 with Retry-After (fast) where the database is
gone, 201 where only Redis is, no double booking, and every booking the database holds either answered
201 or returned by the client's retry with the same key. The worker scenario kills a worker in the middle
of delivery: nothing lost, duplicates at the gateway bounded and counted. Slow-header clients are the
proxy's business (tests/test_proxy.py). The figures of each scenario go to test-artifacts/faults.json."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import http.server
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from creneau.booking.models import Appointment
from creneau.core import clock
from creneau.fhir.ids import slot_id
from creneau.notifications.models import MessageStatus, OutboundMessage
from creneau.patients.services import patient_create_for_organization

from . import factories as f
from .cluster_support import (
    BLIND_INDEX_KEY,
    FIELD_KEYS,
    ROOT,
    database_url,
    environ,
    queue_sms,
    start_node,
    start_worker,
    stop,
    wait_up,
    worker_pids,
)
from .faultproxy import FaultProxy
from .fhir_support import grant, register_client

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % 2
NODE_PORTS = (8034 + 3 * _WORKER, 8035 + 3 * _WORKER)
GATEWAY_PORT = 8036 + 3 * _WORKER
REDIS_DB = 8 + _WORKER
FIGURES: dict[str, dict[str, Any]] = {}
FHIR = "application/fhir+json"


class Gateway(http.server.BaseHTTPRequestHandler):
    """An SMS gateway that deduplicates on Idempotency-Key, as real ones do, and counts requests."""

    requests: list[str] = []
    delivered: set[str] = set()
    delay = 0.0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        key = self.headers.get("Idempotency-Key", "")
        time.sleep(self.delay)
        with self.lock:
            self.requests.append(key)
            self.delivered.add(key)
        body = json.dumps({"id": f"gw-{key}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(autouse=True)
def _production_keys(settings: Any) -> None:
    """Rows written here are read by the nodes: the same field keys, and a hasher production knows (the
    API client's secret)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    settings.CRENEAU_FIELD_KEYS = FIELD_KEYS
    settings.CRENEAU_BLIND_INDEX_KEY = BLIND_INDEX_KEY


@pytest.fixture(scope="module")
def cluster(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two nodes and a worker whose PostgreSQL and Redis connections pass through proxies."""
    import redis
    from django.db import connection

    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_connect_timeout=2).flushdb()
    db = connection.settings_dict
    pg = FaultProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)).start()
    rd = FaultProxy("127.0.0.1", 6379).start()
    gateway = http.server.ThreadingHTTPServer(("127.0.0.1", GATEWAY_PORT), Gateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    env = environ(
        tmp_path_factory.mktemp("faults"),
        redis_url=f"redis://127.0.0.1:{rd.port}/{REDIS_DB}",
        database=database_url("127.0.0.1", pg.port),
        CRENEAU_SMS_BACKEND="creneau.notifications.sms.HttpGatewaySmsBackend",
        CRENEAU_SMS_GATEWAY_URL=f"http://127.0.0.1:{GATEWAY_PORT}/sms",
        CRENEAU_SMS_GATEWAY_TOKEN="faults",
        CRENEAU_OUTBOX_LEASE_SECONDS="3",
        GUNICORN_THREADS="4",
    )
    nodes = [start_node(env, port) for port in NODE_PORTS]
    workers = [start_worker(env)]
    state: dict[str, Any] = {"nodes": NODE_PORTS, "masters": nodes, "workers": workers, "pg": pg, "redis": rd}
    state["env"] = env
    try:
        deadline = time.monotonic() + 60
        for port, proc in zip(NODE_PORTS, nodes, strict=True):
            wait_up(port, proc, deadline)
        yield state
    finally:
        stop(nodes + state["workers"])
        gateway.shutdown()
        gateway.server_close()
        pg.stop()
        rd.stop()
        out = ROOT / "test-artifacts"
        out.mkdir(exist_ok=True)
        (out / "faults.json").write_text(json.dumps(FIGURES, indent=2, sort_keys=True))


class World:
    """One organization open 08:00–18:00 every day, a 15-minute motif, an API client granted it."""

    def __init__(self, cluster: dict[str, Any]) -> None:
        org = f.organization(f"Cabinet {uuid.uuid4().hex[:6]}")
        self.site = f.site(org)
        doc = f.practitioner(self.site)
        self.practitioner = doc
        f.every_day(doc, self.site, start="08:00", end="18:00")
        self.motif = f.motif(doc, minutes=15)
        self.org = org
        self.staff = f.staff(org)
        client_id, secret = register_client()
        self.client_id = client_id
        grant(client_id, org)
        self.token = self._token(cluster["nodes"][0], client_id, secret)
        day = clock.now().astimezone(f.PARIS).date() + dt.timedelta(days=2)
        self.starts = [
            f.paris(d.year, d.month, d.day, 8) + dt.timedelta(minutes=15 * q)
            for d in (day + dt.timedelta(days=n) for n in range(6))
            for q in range(40)
        ]
        self.next = 0

    def _token(self, port: int, client_id: str, secret: str) -> str:
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(
            "POST",
            "/fhir/R4/auth/token",
            body="grant_type=client_credentials",
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        )
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, body
        return str(json.loads(body)["access_token"])

    def bookings(self, n: int, label: str) -> list[tuple[str, dict[str, Any]]]:
        """n (Idempotency-Key, Appointment body) pairs on distinct free slots, for distinct patients."""
        out = []
        for i in range(n):
            patient = patient_create_for_organization(
                actor=self.staff,
                organization_id=self.org.pk,
                family_name="Faure",
                given_name=f"Test{i}",
                birth_date=dt.date(1970 + i % 40, 1 + i % 12, 1 + i % 28),
                phone="+33639980042",
            )
            start = self.starts[self.next]
            self.next += 1
            body = {
                "resourceType": "Appointment",
                "status": "booked",
                "slot": [{"reference": f"Slot/{slot_id(self.motif.pk, self.site.pk, start)}"}],
                "participant": [{"actor": {"reference": f"Patient/{patient.pk}"}, "status": "accepted"}],
            }
            out.append((f"{label}-{uuid.uuid4().hex}", body))
        return out


@pytest.fixture
def world(cluster: dict[str, Any]) -> World:
    return World(cluster)


class Answer:
    def __init__(self, status: int | str, seconds: float, body: bytes = b"", headers: dict[str, str] | None = None):
        self.status = status
        self.seconds = seconds
        self.body = body
        self.headers = headers or {}

    def json(self) -> Any:
        return json.loads(self.body)


def post_booking(port: int, token: str, key: str, body: dict[str, Any], timeout: float = 15) -> Answer:
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request(
            "POST",
            "/fhir/R4/Appointment",
            body=json.dumps(body),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": FHIR,
                "Accept": FHIR,
                "Idempotency-Key": key,
            },
        )
        response = conn.getresponse()
        data = response.read()
        return Answer(response.status, time.monotonic() - started, data, dict(response.getheaders()))
    except OSError as exc:  # connection refused, reset, remote end closed
        return Answer(type(exc).__name__, time.monotonic() - started)


def get(port: int, path: str, timeout: float = 10) -> Answer:
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        response = conn.getresponse()
        return Answer(response.status, time.monotonic() - started, response.read(), dict(response.getheaders()))
    except OSError as exc:
        return Answer(type(exc).__name__, time.monotonic() - started)


def wait_ready(cluster: dict[str, Any], limit: float = 30) -> float:
    """Seconds until both nodes' /readyz answer 200 (the database is back for them)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if all(get(port, "/readyz", timeout=3).status == 200 for port in cluster["nodes"]):
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError("the nodes did not become ready again")


def storm(
    cluster: dict[str, Any], world: World, pairs: list[tuple[str, dict[str, Any]]], *, threads: int = 4
) -> dict[str, Answer]:
    """Book every pair once, spread over both nodes and `threads` clients."""

    def one(i: int) -> tuple[str, Answer]:
        key, body = pairs[i]
        return key, post_booking(cluster["nodes"][i % 2], world.token, key, body)

    with ThreadPoolExecutor(threads) as pool:
        return dict(pool.map(one, range(len(pairs))))


def settle(
    cluster: dict[str, Any], world: World, pairs: list[tuple[str, dict[str, Any]]], first: dict[str, Answer]
) -> dict[str, Any]:
    """Retry every booking not answered 201 with the same key, as a partner does, and check the outcome:
    one appointment per key, each either answered 201 the first time or returned by the retry."""
    keys = [k for k, _ in pairs]
    held_before_retry = _appointments_by_key(world, keys)
    committed_but_failed = sorted(k for k in keys if first[k].status != 201 and k in held_before_retry)
    retried: dict[str, Answer] = {}
    for key, body in pairs:
        if first[key].status == 201:
            continue
        for _attempt in range(5):
            answer = post_booking(cluster["nodes"][0], world.token, key, body)
            if answer.status in (200, 201):
                retried[key] = answer
                break
            time.sleep(1)
        assert key in retried, f"the retry of a booking kept failing ({answer.status})"
    held = _appointments_by_key(world, keys)
    assert set(held) == set(keys), "every booking exists once its client has retried"
    for key in keys:
        answer = first[key] if first[key].status == 201 else retried[key]
        # The Location names the booking (the body may be empty when the database went away after COMMIT).
        assert answer.headers["Location"].endswith(f"/Appointment/{held[key]}"), "the answer names the booking"
    slots = Counter(a.start_at for a in Appointment.objects.filter(idempotency_key__isnull=False))
    assert max(slots.values()) == 1, "no double booking"
    return {"committed_but_reported_failed": len(committed_but_failed), "retried": len(retried)}


def _appointments_by_key(world: World, keys: list[str]) -> dict[str, uuid.UUID]:
    """Appointment id per idempotency key, for this world's client (keys are stored hashed per actor)."""
    from creneau.booking.rows import _idempotency_hash
    from creneau.core.actors import Actor, ActorKind, Channel

    actor = Actor(kind=ActorKind.API_CLIENT, channel=Channel.API, api_client_id=world.client_id)
    hashed = {_idempotency_hash(actor, key): key for key in keys}
    rows = Appointment.objects.filter(idempotency_key__in=list(hashed)).values_list("idempotency_key", "pk")
    return {hashed[h]: pk for h, pk in rows}


def statuses(answers: dict[str, Answer]) -> dict[str, int]:
    return dict(Counter(str(a.status) for a in answers.values()))


def with_fault(start: Callable[[], None], end: Callable[[], None], after: float, lasting: float) -> threading.Thread:
    def run() -> None:
        time.sleep(after)
        start()
        time.sleep(lasting)
        end()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_with_redis_cut_every_booking_answers_201_and_pages_still_load(cluster: dict[str, Any], world: World) -> None:
    pairs = world.bookings(24, "redis")
    before = storm(cluster, world, pairs[:8])
    cluster["redis"].cut()
    try:
        during = storm(cluster, world, pairs[8:16])
        search = get(cluster["nodes"][1], f"/?specialty={world.practitioner.family_name}&where=Lyon")
        login_page = get(cluster["nodes"][0], "/accounts/login/")
    finally:
        cluster["redis"].restore()
    time.sleep(1.5)  # the circuit breaker tries Redis again
    after = storm(cluster, world, pairs[16:])
    answers = {**before, **during, **after}
    FIGURES["redis cut"] = {
        "requests": len(answers) + 2,
        "statuses": statuses(answers),
        "search page": search.status,
        "5xx": sum(1 for a in answers.values() if isinstance(a.status, int) and a.status >= 500),
    }
    assert statuses(answers) == {"201": 24}, FIGURES["redis cut"]
    assert search.status == 200 and world.practitioner.family_name.encode() in search.body
    assert login_page.status == 200
    FIGURES["redis cut"].update(settle(cluster, world, pairs, answers))
    assert FIGURES["redis cut"]["committed_but_reported_failed"] == 0


def test_with_postgresql_cut_bookings_answer_503_fast_and_retries_recover_every_one(
    cluster: dict[str, Any], world: World
) -> None:
    pairs = world.bookings(32, "pg")
    fault = with_fault(cluster["pg"].cut, cluster["pg"].restore, after=0.4, lasting=4)
    first = storm(cluster, world, pairs, threads=4)
    fault.join()
    recovery = wait_ready(cluster)
    failed = [a for a in first.values() if a.status != 201]
    FIGURES["postgresql cut"] = {
        "requests": len(first),
        "statuses": statuses(first),
        "slowest refusal (s)": round(max((a.seconds for a in failed), default=0), 2),
        "refusals (s)": sorted(round(a.seconds, 2) for a in failed),
        "recovery (s)": round(recovery, 2),
    }
    assert failed, "the cut fell between the requests: nothing was tested"
    assert all(a.status == 503 for a in failed), FIGURES["postgresql cut"]
    for answer in failed:
        assert answer.headers.get("Retry-After"), "a 503 says when to retry"
        assert answer.json()["resourceType"] == "OperationOutcome"
        assert answer.seconds < 3, f"a refusal took {answer.seconds:.1f} s"
    FIGURES["postgresql cut"].update(settle(cluster, world, pairs, first))


def test_a_web_worker_killed_during_bookings_loses_nothing_that_retries_cannot_find(
    cluster: dict[str, Any], world: World
) -> None:
    pairs = world.bookings(32, "kill-web")
    master = cluster["masters"][0]

    def kill_workers() -> None:
        for pid in worker_pids(master):
            os.kill(pid, signal.SIGKILL)

    fault = with_fault(kill_workers, lambda: None, after=0.5, lasting=0)
    first = storm(cluster, world, pairs, threads=4)
    fault.join()
    wait_up(cluster["nodes"][0], master, time.monotonic() + 30)  # gunicorn's master forks a new worker
    FIGURES["web worker killed"] = {"requests": len(first), "statuses": statuses(first)}
    assert all(a.status == 201 or isinstance(a.status, str) for a in first.values()), FIGURES["web worker killed"]
    FIGURES["web worker killed"].update(settle(cluster, world, pairs, first))


def test_a_worker_killed_during_delivery_loses_no_message_and_duplicates_are_bounded(
    cluster: dict[str, Any],
) -> None:
    Gateway.delay = 0.05
    ids = queue_sms(60, "faults")
    try:
        deadline = time.monotonic() + 30
        while len(ids & set(Gateway.requests)) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        victim = cluster["workers"].pop()
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        killed_at = time.monotonic()
        cluster["workers"].append(start_worker(cluster["env"]))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if OutboundMessage.objects.filter(pk__in=ids, status=MessageStatus.SENT).count() == len(ids):
                break
            time.sleep(0.2)
        all_sent_after = time.monotonic() - killed_at
    finally:
        Gateway.delay = 0.0
    requests = Counter(k for k in Gateway.requests if k in ids)
    FIGURES["worker killed during delivery"] = {
        "messages": len(ids),
        "lost": len(ids - set(requests)),
        "sent twice to the gateway": sum(1 for n in requests.values() if n > 1),
        "delivered twice to a phone": 0 if ids <= Gateway.delivered else -1,
        "all sent within (s)": round(all_sent_after, 1),
    }
    assert OutboundMessage.objects.filter(pk__in=ids, status=MessageStatus.SENT).count() == len(ids)
    assert set(requests) == ids, "no message lost"
    # Only the message in flight when the worker died may reach the gateway twice (same key: one SMS).
    assert sum(n - 1 for n in requests.values()) <= 1, FIGURES["worker killed during delivery"]
    assert all_sent_after < 30


def test_the_cluster_processes_survived_every_fault(cluster: dict[str, Any]) -> None:
    """Last in the module: both nodes and the worker are still running after the faults above."""
    assert all(p.poll() is None for p in cluster["masters"])
    assert all(w.poll() is None for w in cluster["workers"])
    assert all(get(port, "/readyz").status == 200 for port in cluster["nodes"])
