"""The OAuth2 token endpoint counts requests per client id and per address before it evaluates any
secret: 200 simultaneous requests over real HTTP evaluate exactly the limit (the review saw all 200
wrong secrets checked and 200 tokens minted for the right one)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client, override_settings
from oauth2_provider.models import AccessToken

from creneau.core import clock

from .fhir_support import register_client, token_response
from .live_support import fire, statuses

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("one_window")]


@pytest.fixture
def one_window() -> Iterator[None]:
    """All requests of a test in one rate-limit window, however long the burst takes."""
    with clock.frozen_at(clock.now()):
        yield


class CountingHasher(MD5PasswordHasher):
    """Counts client-secret checks (the toolkit stores secrets hashed with Django's hashers)."""

    algorithm = "counting_md5_secret"
    checks = 0
    lock = threading.Lock()

    def verify(self, password: str, encoded: str) -> bool:
        with CountingHasher.lock:
            CountingHasher.checks += 1
        return super().verify(password, encoded)


@pytest.fixture
def counting() -> Iterator[type[CountingHasher]]:
    CountingHasher.checks = 0
    with override_settings(PASSWORD_HASHERS=[f"{__name__}.CountingHasher"]):
        yield CountingHasher


def _token(live_server: Any, client_id: str, secret: str) -> requests.Response:
    return requests.post(
        f"{live_server.url}/fhir/R4/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=120,
    )


@override_settings(CRENEAU_RATE_LIMITS={"token-client": (20, 60), "token-ip": (1000, 60)})
def test_two_hundred_wrong_secrets_at_once_evaluate_twenty(live_server: Any, counting: type[CountingHasher]) -> None:
    client_id, _secret = register_client()
    results = fire(200, lambda i: _token(live_server, client_id, f"wrong-{i}"))
    assert Counter(statuses(results)) == Counter({401: 20, 429: 180})
    assert counting.checks == 20
    refused = next(r for r in results if isinstance(r, requests.Response) and r.status_code == 429)
    assert refused.json()["error"] == "rate_limited" and refused.headers["Retry-After"] == "60"


@override_settings(CRENEAU_RATE_LIMITS={"token-client": (20, 60), "token-ip": (1000, 60)})
def test_two_hundred_right_secrets_at_once_mint_twenty_tokens(live_server: Any) -> None:
    client_id, secret = register_client()
    results = fire(200, lambda i: _token(live_server, client_id, secret))
    assert Counter(statuses(results)) == Counter({200: 20, 429: 180})
    assert AccessToken.objects.filter(application__client_id=client_id).count() == 20


@override_settings(CRENEAU_RATE_LIMITS={"token-client": (1000, 60), "token-ip": (60, 60)})
def test_one_address_cycling_client_ids_is_stopped_per_address(live_server: Any) -> None:
    results = fire(200, lambda i: _token(live_server, f"made-up-client-{i}", "secret"))
    assert Counter(statuses(results)) == Counter({401: 60, 429: 140})


@override_settings(CRENEAU_RATE_LIMITS={"token-client": (2, 60), "token-ip": (1000, 60)})
def test_the_client_id_is_counted_whichever_way_it_is_sent() -> None:
    client_id, secret = register_client()
    web = Client()
    assert token_response(web, client_id, secret).status_code == 200
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    assert web.post("/fhir/R4/auth/token", body).status_code == 200
    assert web.post("/fhir/R4/auth/token", body).status_code == 429
    other, other_secret = register_client("Autre logiciel")
    assert token_response(web, other, other_secret).status_code == 200
