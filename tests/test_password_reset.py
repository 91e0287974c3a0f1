"""Forgotten and changed passwords: same answer for any address, rate limited, lockout lifted by a reset,
breached passwords refused, and a change needs the password typed again."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from . import factories as f
from .notif_support import deliver

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery 42"
NEW = "gravier mistral lanterne 47"


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def reset_link() -> str:
    match = re.search(r"https?://[^/\s]+(/\S+/password/reset/\S+/)", str(mail.outbox[-1].body))
    assert match is not None
    return match.group(1)


def test_a_reset_looks_the_same_for_known_and_unknown_addresses() -> None:
    user, _p, _a = f.patient_account()
    known = Client().post(reverse("accounts:password_reset"), {"email": user.email})
    unknown = Client().post(reverse("accounts:password_reset"), {"email": "nobody@example.invalid"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("accounts:password_reset_done")
    assert not mail.outbox  # nothing sent, nor even looked up, in the request
    deliver()
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_a_reset_lifts_the_lockout_and_refuses_a_breached_password() -> None:
    user, _p, _a = f.patient_account()
    user.language = "en"  # the link opens the reset page in the account's language
    user.save(update_fields=["language"])
    client = Client()
    for _ in range(6):
        paused = client.post(reverse("accounts:login"), {"username": user.email, "password": "wrong password"})
    assert "sign-in is paused" in paused.content.decode()
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    deliver()
    form_page = client.get(reset_link(), follow=True)
    url = form_page.redirect_chain[-1][0]
    weak = client.post(url, {"new_password1": "qwertyuiop", "new_password2": "qwertyuiop"})
    assert "data breaches" in weak.content.decode()
    done = client.post(url, {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW)
    signed_in = client.post(reverse("accounts:login"), {"username": user.email, "password": NEW})
    assert signed_in.status_code == 302 and "_auth_user_id" in client.session


@override_settings(CRENEAU_RATE_LIMITS={"password-reset-ip": (2, 3600)})
def test_reset_requests_are_rate_limited_per_address() -> None:
    client = Client()
    codes = [
        client.post(reverse("accounts:password_reset"), {"email": f"x{i}@example.invalid"}).status_code
        for i in range(3)
    ]
    assert codes == [302, 302, 429]


@override_settings(CRENEAU_RATE_LIMITS={"password-reset-account": (1, 3600)})
def test_one_mailbox_is_not_flooded_with_reset_mails() -> None:
    user, _p, _a = f.patient_account()
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        Client(REMOTE_ADDR=ip).post(reverse("accounts:password_reset"), {"email": user.email})
    deliver()
    assert len(mail.outbox) == 1


def test_changing_the_password_needs_it_typed_again() -> None:
    user, _p, _a = f.patient_account()
    client = Client()
    client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    session = client.session
    session["auth_at"] = int(time.time()) - 3600
    session.save()
    response = client.get(reverse("accounts:password_change"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:reauth"))
    client.post(reverse("accounts:reauth"), {"password": PASSWORD})
    changed = client.post(
        reverse("accounts:password_change"), {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    )
    assert changed.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW)
