"""Partner-safe detection: quotas are published, every answer says where the client stands (RateLimit
headers), a client past a quota gets 429 with Retry-After (never a suspension first) and is served
again once it has waited; an organization's own software syncing its agenda, or a test run full of
not-founds, is neither throttled nor suspended with the default thresholds; a client that ignores its
429s is suspended and gets no more tokens; without Redis the limits degrade, never fail."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from django.test import Client

from creneau.audit.models import DetectionAlert, SuspendedPrincipal
from creneau.core import clock
from creneau.core.outcomes import REFUSAL_SYSTEM

from . import fhir_support as fs
from .faultproxy import FaultProxy
from .test_attack_replay import _fill
from .test_degrade import redis_proxy  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _reason(response: Any) -> str:
    coding = response.json()["issue"][0]["details"]["coding"][0]
    assert coding["system"] == REFUSAL_SYSTEM
    return str(coding["code"])


def _partner(client: Client, t: fs.Tenant) -> tuple[str, str, fs.Api]:
    client_id, secret = fs.register_client()
    fs.grant(client_id, t.org)
    return client_id, secret, fs.Api(client, fs.token(client, client_id, secret))


def test_the_capability_statement_and_every_answer_publish_the_quotas(
    client: Client, monday_morning: None, settings: Any
) -> None:
    fs.reset_rate_limits()
    a = fs.tenant("Cabinet A")
    _client_id, _secret, api = _partner(client, a)
    statement = client.get("/fhir/R4/metadata").json()
    rest = statement["rest"][0]
    quota = next(e for e in rest["extension"] if e["url"].endswith("/client-quota"))
    values = {e["url"]: e["valueInteger"] for e in quota["extension"]}
    assert values["requests"] == 600 and values["requests-window-seconds"] == 60
    assert values["distinct-patients"] == settings.CRENEAU_DETECTION["limits"]["api_client"]["quota_patients"]
    assert values["not-found"] == settings.CRENEAU_DETECTION["limits"]["api_client"]["quota_not_found"]
    assert "429" in rest["security"]["description"] and "Retry-After" in rest["security"]["description"]
    first, second = api.get("Appointment"), api.get("Appointment")
    assert first["RateLimit-Limit"] == "600" and first["RateLimit-Policy"] == "600;w=60"
    assert int(first["RateLimit-Remaining"]) == int(second["RateLimit-Remaining"]) + 1
    assert 0 < int(first["RateLimit-Reset"]) <= 60
    anonymous = client.get("/fhir/R4/Organization")
    assert anonymous["RateLimit-Limit"] == str(settings.CRENEAU_FHIR_ANON_RATE[0])


def test_too_many_requests_answer_429_with_retry_after_and_do_not_suspend(
    client: Client, monday_morning: None, settings: Any
) -> None:
    settings.CRENEAU_RATE_LIMITS = {"fhir-client": (3, 60)}
    fs.reset_rate_limits()
    a = fs.tenant("Cabinet A")
    client_id, _secret, api = _partner(client, a)
    answers = [api.get(f"Organization/{a.org.pk}") for _ in range(5)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
    assert [r["RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0", "0"]
    refused = answers[3]
    assert 0 < int(refused["Retry-After"]) <= 60 and _reason(refused) == "rate-limited"
    assert not SuspendedPrincipal.objects.filter(principal=f"client:{client_id}").exists()
    with clock.frozen_at(clock.now() + dt.timedelta(seconds=int(refused["Retry-After"]))):
        assert api.get(f"Organization/{a.org.pk}").status_code == 200


@pytest.fixture
def low_quotas(settings: Any) -> None:
    limits = dict(settings.CRENEAU_DETECTION["limits"])
    limits["api_client"] = {
        "alert_patients": 100,
        "quota_patients": 20,
        "suspend_patients": 100,
        "alert_not_found": 100,
        "quota_not_found": 10,
        "suspend_not_found": 100,
    }
    settings.CRENEAU_DETECTION = {**settings.CRENEAU_DETECTION, "limits": limits, "quota_grace": 3}
    fs.reset_rate_limits()


def test_a_client_that_waits_as_told_after_its_quota_is_served_again_and_never_suspended(
    client: Client, monday_morning: None, low_quotas: None
) -> None:
    a = fs.tenant("Cabinet A")
    _fill(a, 30)
    client_id, secret, api = _partner(client, a)
    assert api.get("Appointment", {"_count": "25"}).status_code == 200  # 25 patients: past the quota of 20
    refused = api.get("Appointment", {"_count": "25", "_offset": "25"})
    assert refused.status_code == 429 and _reason(refused) == "quota-exceeded"
    wait = int(refused["Retry-After"])
    assert 0 < wait <= 3600
    assert "quota" in refused.json()["issue"][0]["diagnostics"]
    # Its writes still go through: the quota is on what it reads.
    cancel = api.client.patch(
        f"/fhir/R4/Appointment/{a.appointment.pk}",
        json.dumps([{"op": "replace", "path": "/status", "value": "cancelled"}]),
        content_type="application/json-patch+json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert cancel.status_code == 200, cancel.content[:300]
    with clock.frozen_at(clock.now() + dt.timedelta(seconds=wait + 1)):
        again = fs.Api(client, fs.token(client, client_id, secret))
        assert again.get("Appointment", {"_count": "5", "_offset": "25"}).status_code == 200
    assert not SuspendedPrincipal.objects.filter(principal=f"client:{client_id}").exists()
    assert DetectionAlert.objects.filter(principal=f"client:{client_id}", rule="patient-quota").count() == 1


def test_a_client_that_ignores_its_429s_is_suspended_and_gets_no_token(
    client: Client, monday_morning: None, low_quotas: None
) -> None:
    a = fs.tenant("Cabinet A")
    client_id, secret, api = _partner(client, a)
    codes = [api.get(f"Appointment/{uuid.uuid4()}").status_code for _ in range(16)]
    assert codes[:10] == [404] * 10 and codes[10:13] == [429] * 3 and set(codes[13:]) == {403}
    alert = DetectionAlert.objects.get(principal=f"client:{client_id}", rule="quota-ignored")
    assert alert.suspended
    refused = fs.token_response(client, client_id, secret)
    assert refused.status_code == 403
    assert refused.json()["error"] == "unauthorized_client" and refused.json()["reason"] == "suspended"
    assert "access_token" not in refused.json()
    assert "suspendu" in refused.json()["error_description"]  # French by default
    basic = refused.request["HTTP_AUTHORIZATION"]
    english = client.post(
        "/fhir/R4/auth/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert english.status_code == 403 and "suspended" in english.json()["error_description"]
    assert english["Content-Language"] == "en"


def test_an_organizations_own_sync_of_306_patients_in_four_pages_is_not_stopped(
    client: Client, monday_morning: None
) -> None:
    """Default thresholds: the first sync of a practice's agenda, 4 pages of 100 within the hour."""
    fs.reset_rate_limits()
    a = fs.tenant("Cabinet A")
    _fill(a, 305)
    client_id, _secret, api = _partner(client, a)
    patients: set[str] = set()
    for page in range(4):
        r = api.get("Appointment", {"_count": "100", "_offset": str(page * 100), "date": "ge2026-03-01"})
        assert r.status_code == 200, r.content[:300]
        for entry in r.json().get("entry", []):
            for part in entry["resource"].get("participant", []):
                ref = part.get("actor", {}).get("reference", "")
                if ref.startswith("Patient/"):
                    patients.add(ref)
    assert len(patients) == 306
    # Then incremental: what changed since.
    since = (clock.now() - dt.timedelta(minutes=5)).isoformat()
    assert api.get("Appointment", {"_lastUpdated": f"ge{since}"}).status_code == 200
    assert not SuspendedPrincipal.objects.filter(principal=f"client:{client_id}").exists()
    assert not DetectionAlert.objects.filter(principal=f"client:{client_id}").exists()


def test_a_test_run_with_a_hundred_not_founds_is_not_stopped(client: Client, monday_morning: None) -> None:
    fs.reset_rate_limits()
    a = fs.tenant("Cabinet A")
    client_id, _secret, api = _partner(client, a)
    codes = {api.get(f"Appointment/{uuid.uuid4()}").status_code for _ in range(100)}
    assert codes == {404}
    assert api.get(f"Appointment/{a.appointment.pk}").status_code == 200
    assert not SuspendedPrincipal.objects.filter(principal=f"client:{client_id}").exists()


@pytest.mark.redis
def test_without_redis_the_request_quota_degrades_to_a_per_process_count(
    db: None,
    monday_morning: None,
    redis_proxy: FaultProxy,  # noqa: F811 (the fixture imported above)
    settings: Any,
) -> None:
    settings.CRENEAU_RATE_LIMITS = {"fhir-client": (3, 60)}
    fs.reset_rate_limits()
    a = fs.tenant("Cabinet A")
    http = Client(raise_request_exception=False)
    _client_id, _secret, api = _partner(http, a)
    redis_proxy.cut()
    codes = [api.get(f"Organization/{a.org.pk}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
