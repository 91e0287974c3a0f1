"""Sign-in limits count each attempt before its password is checked: 200 simultaneous attempts over real
HTTP check exactly as many passwords as the limits allow (the review measured 12 checks for a lockout at
5, and 57 for an address limited to 50), and the owner, elsewhere, still signs in."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client, override_settings

from creneau.accounts.models import User

from .live_support import fire, session_for, statuses

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery 42"


class CountingHasher(MD5PasswordHasher):
    """Counts password checks; each takes 20 ms, like a real Argon2 verification, so the race is wide."""

    algorithm = "counting_md5"
    checks = 0
    lock = threading.Lock()

    def verify(self, password: str, encoded: str) -> bool:
        with CountingHasher.lock:
            CountingHasher.checks += 1
        time.sleep(0.02)
        return super().verify(password, encoded)


@pytest.fixture
def counting() -> Iterator[type[CountingHasher]]:
    CountingHasher.checks = 0
    with override_settings(PASSWORD_HASHERS=[f"{__name__}.CountingHasher"]):
        yield CountingHasher


def _login(live_server: Any, email: str, password: str) -> Any:
    session = session_for()
    return session.post(
        f"{live_server.url}/en/accounts/login/",
        data={"username": email, "password": password},
        allow_redirects=False,
        timeout=120,
    )


def test_two_hundred_simultaneous_guesses_at_one_account_check_five_passwords(
    live_server: Any, counting: type[CountingHasher]
) -> None:
    user = User.objects.create_user("cible@example.invalid", PASSWORD)
    results = fire(200, lambda i: _login(live_server, user.email, f"guess number {i}"))
    assert Counter(statuses(results)) == Counter({200: 200})
    assert counting.checks == 5
    paused = [r for r in results if "sign-in is paused" in r.text]  # type: ignore[union-attr]
    assert len(paused) == 195
    # The practitioner, at the practice (another address), is not locked out by the attack.
    owner = Client(REMOTE_ADDR="198.51.100.9")
    answer = owner.post("/en/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert answer.status_code == 302 and "_auth_user_id" in owner.session


@override_settings(CRENEAU_RATE_LIMITS={"login-ip": (50, 900)})
def test_two_hundred_simultaneous_guesses_from_one_address_check_fifty_passwords(
    live_server: Any, counting: type[CountingHasher]
) -> None:
    users = [User.objects.create_user(f"v{i}@example.invalid", PASSWORD) for i in range(50)]
    results = fire(200, lambda i: _login(live_server, users[i % 50].email, "Summer2026!"))
    assert Counter(statuses(results)) == Counter({200: 200})
    assert counting.checks == 50
