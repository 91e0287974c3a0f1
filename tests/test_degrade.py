"""Degrade, never lie (in one process; tests/test_faults.py does the same with real servers and nodes):
with Redis cut, the cache misses and stores nothing, bookings succeed, address limits count per
process and account protections answer 503 with Retry-After; nothing run after a commit turns a
committed write into an error; concurrent rebuilds of one practitioner's index do not collide; bodies
too large, too deep or holding control characters get a precise 4xx."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils import translation

from creneau.booking.models import Appointment
from creneau.core import cache as degrading
from creneau.core import failures, periodic, ratelimit
from creneau.core.cache import CacheUnavailable
from creneau.scheduling import services as scheduling
from creneau.scheduling.models import AvailabilityIndex

from . import factories as f
from .conftest import REDIS_TEST_URL
from .faultproxy import FaultProxy
from .fhir_support import Api, booking_body, grant, register_client, reset_rate_limits, tenant, token
from .personas import World


@pytest.fixture
def redis_proxy() -> Iterator[FaultProxy]:
    """The production cache backend on the test Redis, reached through a proxy the test can cut."""
    host_port = REDIS_TEST_URL.split("//", 1)[1].split("/", 1)
    host, port = host_port[0].split(":")
    proxy = FaultProxy(host, int(port)).start()
    settings = {
        "default": {
            "BACKEND": "creneau.core.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{proxy.port}/{host_port[1] if len(host_port) > 1 else 0}",
            "KEY_PREFIX": f"degrade-{uuid.uuid4().hex}",
        }
    }
    with override_settings(CACHES=settings):
        yield proxy
    proxy.stop()


def wait_for_retry() -> None:
    """Let the circuit breaker try Redis again."""
    time.sleep(degrading.DOWN_SECONDS + 0.2)


@pytest.mark.redis
def test_with_redis_cut_the_cache_misses_then_recovers_without_stale_values(redis_proxy: FaultProxy) -> None:
    cache.set("session-like", "signed in", 60)
    assert cache.get("session-like") == "signed in"
    redis_proxy.cut()
    assert cache.get("session-like") is None  # a miss, not an error
    cache.set("session-like", "signed out", 60)  # dropped, and remembered
    cache.delete("other")
    assert cache.get_many(["session-like", "other"]) == {}
    with pytest.raises(CacheUnavailable):
        cache.add("claim", 1, 60)  # a claim cannot be faked
    redis_proxy.restore()
    wait_for_retry()
    # The value written during the outage is not replaced by the one from before it: the key is gone.
    assert cache.get("session-like") is None
    cache.set("session-like", "fresh", 60)
    assert cache.get("session-like") == "fresh"
    assert degrading.redis_status() == "up"


@pytest.mark.redis
def test_with_redis_blackholed_calls_give_up_quickly_and_the_circuit_spares_the_next_ones(
    redis_proxy: FaultProxy,
) -> None:
    cache.set("k", "v", 60)
    redis_proxy.blackhole()
    assert cache.get("k") is None
    client = degrading.redis_client()
    assert client is not None and not client.available  # the next calls do not even try
    assert degrading.redis_status() == "down"
    redis_proxy.restore()
    wait_for_retry()
    assert cache.get("k") == "v"


@pytest.mark.redis
def test_with_redis_cut_address_limits_count_per_process_and_account_limits_fail_closed(
    redis_proxy: FaultProxy,
) -> None:
    redis_proxy.cut()
    search = ratelimit.Limit("search-ip", 3, 60)
    assert [ratelimit.allow(search, "203.0.113.9") for _ in range(4)] == [True, True, True, False]
    with pytest.raises(CacheUnavailable):
        ratelimit.hit(ratelimit.get("login-account"), "someone@example.test")
    with pytest.raises(CacheUnavailable):
        ratelimit.is_locked("login-account", "someone@example.test")
    redis_proxy.restore()
    wait_for_retry()
    assert ratelimit.hit(ratelimit.get("login-account"), "someone@example.test") == 1


@pytest.mark.redis
def test_with_redis_cut_sign_in_answers_503_with_retry_after_and_pages_still_load(
    db: None, redis_proxy: FaultProxy
) -> None:
    user, _patient, _actor = f.patient_account()
    browser = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(user)
    redis_proxy.cut()
    assert browser.get(reverse("web:account")).status_code == 200  # sessions live in the database here
    assert browser.get(reverse("web:home")).status_code == 200
    response = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en").post(
        reverse("accounts:login"), {"username": user.email, "password": "whatever-it-is"}
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"briefly unavailable" in response.content


@pytest.mark.redis
def test_with_redis_cut_the_worker_still_runs_its_periodic_jobs(
    db: None, redis_proxy: FaultProxy, settings: Any
) -> None:
    PROBE_RUNS.clear()
    settings.CRENEAU_PERIODIC_JOBS = [(f"probe-{uuid.uuid4().hex}", 3600, f"{__name__}.probe_job")]
    redis_proxy.cut()
    assert periodic.run_due() == 1
    assert periodic.run_due() == 0  # once per interval in this process
    assert PROBE_RUNS == ["probe"]


PROBE_RUNS: list[str] = []


def probe_job() -> None:
    PROBE_RUNS.append("probe")


@pytest.mark.redis
def test_with_redis_cut_a_fhir_booking_succeeds_and_answers_201(
    db: None, monday_morning: None, redis_proxy: FaultProxy
) -> None:
    reset_rate_limits()
    a = tenant("Cabinet A")
    client_id, secret = register_client()
    grant(client_id, a.org)
    http = Client(raise_request_exception=False)
    api = Api(http, token(http, client_id, secret))
    redis_proxy.cut()
    found = api.get("Slot", {"schedule": f"Schedule/{a.role_id}", "start": "ge2026-03-03", "_count": 1})
    assert found.status_code == 200
    slot = found.json()["entry"][0]["resource"]
    booked = api.post("Appointment", booking_body(slot["id"], a.patient.pk))
    assert booked.status_code == 201, booked.content
    assert Appointment.objects.filter(pk=booked.json()["id"]).exists()


def test_a_failing_index_update_after_commit_does_not_fail_the_booking(
    world: World, monkeypatch: Any, caplog: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from creneau.booking.services import SlotRef, appointment_book

    def broken(**kwargs: Any) -> int:
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(scheduling, "availability_taken", broken)
    start = f.paris(2026, 3, 3, 9, 0)
    with django_capture_on_commit_callbacks(execute=True):
        appointment = appointment_book(
            actor=world.patient_actor,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, start),
            patient_id=world.patient.pk,
        )
    assert Appointment.objects.filter(pk=appointment.pk, status="booked").exists()
    assert "availability index update failed (RuntimeError)" in caplog.text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_rebuilds_of_one_practitioners_index_never_collide() -> None:
    org = f.organization()
    site = f.site(org)
    doc = f.practitioner(site)
    f.every_day(doc, site)
    f.motif(doc, minutes=30)
    f.motif(doc, minutes=15)

    def rebuild(_: int) -> str:
        try:
            scheduling.availability_refresh(practitioner_ids=[doc.pk])
            return "ok"
        except Exception as exc:
            return type(exc).__name__
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(rebuild, range(40)))
    assert outcomes == ["ok"] * 40
    assert AvailabilityIndex.objects.filter(practitioner=doc).count() == 2


# --- input limits ----------------------------------------------------------------------------------------
@pytest.fixture
def api(db: None, monday_morning: None) -> Api:
    reset_rate_limits()
    a = tenant("Cabinet A")
    client_id, secret = register_client()
    grant(client_id, a.org)
    http = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")
    return Api(http, token(http, client_id, secret))


def _post_raw(api: Api, body: bytes) -> Any:
    return api.post("Appointment", body)


def test_a_fhir_body_over_the_limit_answers_413_with_an_operation_outcome(api: Api, settings: Any) -> None:
    response = _post_raw(api, b"{" + b" " * (settings.CRENEAU_MAX_BODY_BYTES + 10) + b"}")
    assert response.status_code == 413
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "too large" in outcome["issue"][0]["diagnostics"]


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json_answers_400_with_an_operation_outcome(api: Api, depth: int) -> None:
    body = b'{"resourceType":"Appointment","x":' + b"[" * depth + b"]" * depth + b"}"
    response = _post_raw(api, body)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["issue"][0]["diagnostics"]


def test_a_control_character_in_a_json_value_answers_400_naming_the_member(api: Api) -> None:
    body = json.dumps({"resourceType": "Appointment", "comment": "bon\u0000jour"}).encode()
    response = _post_raw(api, body)
    assert response.status_code == 400
    assert "member “comment” contains a control character" in response.json()["issue"][0]["diagnostics"]


def test_a_nul_in_a_query_or_form_value_answers_400(db: None) -> None:
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = browser.get(reverse("web:home"), {"q": "derma\x00"})
    assert response.status_code == 400
    assert "parameter “q” contains a control character" in response.content.decode()
    response = browser.post(reverse("accounts:login"), {"username": "a\x01b@example.test", "password": "x"})
    assert response.status_code == 400


def test_ordinary_text_with_line_breaks_and_tabs_passes(db: None) -> None:
    response = Client().get(reverse("web:home"), {"q": "dermato\tlogue"})
    assert response.status_code == 200


def test_health_and_readiness_endpoints(db: None) -> None:
    assert Client().get("/healthz").status_code == 200
    ready = Client().get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "up"


def test_input_refusals_and_the_unavailable_page_speak_french_by_default(db: None) -> None:
    response = Client().get(reverse("web:home"), {"where": "Lyon\x00"})
    assert response.status_code == 400
    assert "Le paramètre « where » contient un caractère de contrôle" in response.content.decode()
    with translation.override("fr"):
        page = failures.unavailable_response(RequestFactory().get("/"))
    assert page.status_code == 503 and "momentanément indisponible" in page.content.decode()
