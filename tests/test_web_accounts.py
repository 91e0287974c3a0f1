"""Sign-up with email verification, sign-in, sign-out everywhere."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from creneau.accounts.models import User

from . import factories as f
from .notif_support import deliver
from .web_support import signed_in

pytestmark = pytest.mark.django_db

PASSWORD = "a long passphrase 4 creneau"


def page_templates(response: object) -> list[str]:
    """The templates of the page itself (a queued message renders its own, in its recipient's language)."""
    names = [t.name for t in response.templates]  # type: ignore[attr-defined]
    return [n for n in names if n and not n.startswith("notifications/messages/")]


def test_signup_sends_a_verification_link_and_the_link_signs_in(client: Client) -> None:
    response = client.post(
        "/en/accounts/signup/",
        {"email": "Nina@Example.invalid", "password1": PASSWORD, "password2": PASSWORD, "next": "/book/resume/"},
    )
    assert response.status_code == 200
    assert "Check your email" in response.content.decode()
    user = User.objects.by_email("nina@example.invalid").get()
    assert not user.is_active
    assert not mail.outbox  # queued in the outbox, sent by the worker
    deliver()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["nina@example.invalid"]
    link = re.search(r"https?://[^/\s]+(/\S+/verify/\S+)", str(mail.outbox[0].body))
    assert link is not None
    response = client.get(link.group(1))
    assert response.status_code == 302 and response["Location"] == "/book/resume/"
    user.refresh_from_db()
    assert user.is_active
    assert client.get("/account/").status_code == 200
    # The link works once.
    client.logout()
    assert client.get(link.group(1)).status_code == 400


def test_signup_refuses_mismatched_passwords(client: Client) -> None:
    response = client.post(
        "/en/accounts/signup/", {"email": "new@example.invalid", "password1": PASSWORD, "password2": "other one 123"}
    )
    assert "The two passwords differ." in response.content.decode()
    assert not mail.outbox


def test_signup_with_a_taken_email_looks_the_same_and_warns_the_owner(client: Client) -> None:
    f.User.objects.create_user("taken@example.invalid", PASSWORD)
    taken = client.post(
        "/en/accounts/signup/", {"email": "taken@example.invalid", "password1": PASSWORD, "password2": PASSWORD}
    )
    fresh = client.post(
        "/en/accounts/signup/", {"email": "fresh@example.invalid", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert taken.status_code == fresh.status_code == 200
    assert page_templates(taken) == page_templates(fresh)
    assert page_templates(taken)[0] == "accounts/check_email.html"
    assert "already exists" not in taken.content.decode()
    deliver()
    assert [m.to for m in mail.outbox] == [["taken@example.invalid"], ["fresh@example.invalid"]]
    assert "Vous avez déjà un compte creneau" in mail.outbox[0].body  # in the owner's language (fr)
    assert f.User.objects.by_email("taken@example.invalid").count() == 1


def test_a_forged_verification_link_is_a_400(client: Client) -> None:
    assert client.get("/accounts/verify/bm9wZQ/abc-def/").status_code == 400


def test_an_unverified_account_cannot_sign_in(client: Client) -> None:
    User.objects.create_user("slow@example.invalid", PASSWORD, is_active=False)
    response = client.post("/accounts/login/", {"username": "slow@example.invalid", "password": PASSWORD})
    assert response.status_code == 200
    assert client.get("/account/").status_code == 302


def test_sign_in_with_email_and_password(client: Client) -> None:
    User.objects.create_user("alice@example.invalid", PASSWORD)
    response = client.post("/accounts/login/", {"username": "alice@example.invalid", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200


def test_sign_out_everywhere_ends_the_other_sessions(client: Client) -> None:
    user = User.objects.create_user("alice@example.invalid", PASSWORD)
    laptop, phone = signed_in(user), signed_in(user)
    wrong = phone.post("/en/accounts/signout-everywhere/", {"password": "not my password"})
    assert "This password is not correct." in wrong.content.decode()
    assert laptop.get("/account/").status_code == 200
    response = phone.post("/accounts/signout-everywhere/", {"password": PASSWORD})
    assert response.status_code == 302
    assert laptop.get("/account/").status_code == 302
    assert phone.get("/account/").status_code == 302
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_language_switch_to_english(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"}, follow=True)
    assert "Book a medical appointment" in response.content.decode()
    assert response.redirect_chain[-1][0] == "/en/"
