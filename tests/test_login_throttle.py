"""Sign-in throttling: lockout after repeated failures with a clear message, per-IP limits, and the same
answer whether or not the email has an account."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from creneau.accounts.models import User
from creneau.core import clock

from . import factories as f

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    # English pages (/en/… URLs from reverse()) and messages.
    with translation.override("en"):
        yield


PASSWORD = "correct horse battery 42"
LOCKED = "sign-in is paused for this account"


def attempt(client: Client, email: str, password: str) -> tuple[int, str]:
    response = client.post(
        reverse("accounts:login"), {"username": email, "password": password}, HTTP_ACCEPT_LANGUAGE="en"
    )
    return response.status_code, response.content.decode()


def comparable(answer: tuple[int, str], email: str) -> tuple[int, str]:
    """The page minus what legitimately differs: the CSRF token and the email the user typed."""
    status, body = answer
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body).replace(email, "EMAIL")
    return status, body


def test_an_account_locks_after_five_failures_even_for_the_right_password() -> None:
    user, _p, _a = f.patient_account()
    client = Client()
    for _ in range(5):
        status, body = attempt(client, user.email, "not the password")
        assert status == 200 and LOCKED not in body
    status, body = attempt(client, user.email, PASSWORD)
    assert LOCKED in body and "_auth_user_id" not in client.session


def test_locked_known_and_unknown_emails_get_the_same_answer() -> None:
    user, _p, _a = f.patient_account()
    answers: list[tuple[tuple[int, str], tuple[int, str]]] = []
    for email in (user.email, "nobody-here@example.invalid"):
        client = Client(REMOTE_ADDR=f"10.0.0.{len(answers) + 1}")
        first = attempt(client, email, "wrong password 1")
        for _ in range(5):
            last = attempt(client, email, "wrong password 1")
        answers.append((comparable(first, email), comparable(last, email)))
    (known_first, known_locked), (unknown_first, unknown_locked) = answers
    assert known_first == unknown_first
    assert known_locked == unknown_locked and LOCKED in known_locked[1]


def test_a_success_clears_the_failures() -> None:
    user, _p, _a = f.patient_account()
    client = Client()
    for _ in range(4):
        attempt(client, user.email, "wrong")
    assert attempt(client, user.email, PASSWORD)[0] == 302
    client.post(reverse("accounts:logout"))
    for _ in range(4):
        assert LOCKED not in attempt(client, user.email, "wrong")[1]


@override_settings(CRENEAU_RATE_LIMITS={"login-ip": (3, 900)})
def test_one_address_cannot_spray_many_accounts() -> None:
    client = Client(REMOTE_ADDR="192.0.2.7")
    for i in range(3):
        assert LOCKED not in attempt(client, f"victim{i}@example.invalid", "Summer2026!")[1]
    assert LOCKED in attempt(client, "victim9@example.invalid", "Summer2026!")[1]
    other = Client(REMOTE_ADDR="192.0.2.8")
    assert LOCKED not in attempt(other, "victim9@example.invalid", "Summer2026!")[1]


def test_the_admin_login_is_locked_too() -> None:
    admin = User.objects.create_superuser("op@example.invalid", PASSWORD)
    client = Client()
    for _ in range(5):
        client.post(reverse("admin:login"), {"username": admin.email, "password": "wrong"})
    client.post(reverse("admin:login"), {"username": admin.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session


@override_settings(CRENEAU_RATE_LIMITS={"login-ip": (3, 900)})
def test_a_practice_behind_one_address_is_not_locked_out_by_its_own_sign_ins() -> None:
    users = [f.patient_account()[0] for _ in range(5)]
    for user in users:
        client = Client(REMOTE_ADDR="198.51.100.4")
        assert attempt(client, user.email, PASSWORD)[0] == 302


def test_after_five_failures_each_further_attempt_from_that_address_waits_twice_as_long() -> None:
    user, _p, _a = f.patient_account()
    client = Client(REMOTE_ADDR="203.0.113.5")
    start = clock.now()
    with clock.frozen_at(start):
        for _ in range(5):
            assert LOCKED not in attempt(client, user.email, "wrong")[1]
        assert LOCKED in attempt(client, user.email, "wrong")[1]
    with clock.frozen_at(start + dt.timedelta(seconds=61)):  # one minute: one more try
        assert LOCKED not in attempt(client, user.email, "wrong")[1]
        assert LOCKED in attempt(client, user.email, "wrong")[1]
    with clock.frozen_at(start + dt.timedelta(seconds=150)):  # the next needs three minutes in all
        assert LOCKED in attempt(client, user.email, PASSWORD)[1]
    with clock.frozen_at(start + dt.timedelta(seconds=181)):
        assert attempt(client, user.email, PASSWORD)[0] == 302


def test_an_attacker_cannot_lock_the_practitioner_out_of_their_agenda() -> None:
    """Wrong passwords from the attacker's address pause only that address: the owner, at the practice,
    signs in with the right password straight away."""
    doctor = f.user_of(f.staff(f.organization()))
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    for _ in range(20):
        attempt(attacker, doctor.email, "guess")
    assert LOCKED in attempt(attacker, doctor.email, PASSWORD)[1]
    practice = Client(REMOTE_ADDR="198.51.100.20")
    assert attempt(practice, doctor.email, PASSWORD)[0] == 302


@override_settings(CRENEAU_RATE_LIMITS={"login-account": (3, 900)})
def test_guesses_spread_over_many_addresses_stop_at_the_account_brake_but_a_known_browser_gets_in() -> None:
    doctor = f.user_of(f.staff(f.organization()))
    usual = Client(REMOTE_ADDR="198.51.100.20")
    assert attempt(usual, doctor.email, PASSWORD)[0] == 302  # this browser is now known to the account
    usual.post(reverse("accounts:logout"))
    for i in range(3):
        attempt(Client(REMOTE_ADDR=f"203.0.113.{i + 1}"), doctor.email, "guess")
    stranger = Client(REMOTE_ADDR="203.0.113.99")
    assert LOCKED in attempt(stranger, doctor.email, PASSWORD)[1]
    assert attempt(usual, doctor.email, PASSWORD)[0] == 302


def test_the_reauthentication_form_counts_against_the_same_limits() -> None:
    user, _p, _a = f.patient_account()
    client = Client(REMOTE_ADDR="203.0.113.7")
    client.force_login(user)
    for _ in range(5):
        wrong = client.post(reverse("accounts:reauth"), {"password": "wrong"})
        assert b"not correct" in wrong.content
    paused = client.post(reverse("accounts:reauth"), {"password": PASSWORD})
    assert LOCKED in paused.content.decode()
