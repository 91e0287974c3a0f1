"""Account security events reach the account holder: new browser, password change, second factor."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from creneau.accounts.models import User
from creneau.notifications.models import OutboundMessage

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery 42"


def _kinds(user: User) -> list[str]:
    return list(OutboundMessage.objects.filter(user_id=user.pk).values_list("kind", flat=True))


def test_a_sign_in_from_a_new_browser_is_notified_once(client: Client, db: None) -> None:
    user = User.objects.create_user("alice@example.invalid", PASSWORD)
    r = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    assert r.status_code == 302
    assert _kinds(user) == ["security_new_login"]
    client.post(reverse("accounts:logout"))
    client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    assert _kinds(user) == ["security_new_login"]  # same browser: nothing new
    other_browser = Client()
    other_browser.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    assert _kinds(user) == ["security_new_login", "security_new_login"]


def test_a_password_change_is_notified(client: Client, db: None) -> None:
    user = User.objects.create_user("bob@example.invalid", PASSWORD)
    client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    new = "an entirely different passphrase 77"
    r = client.post(
        reverse("accounts:password_change"), {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert r.status_code == 302, r.content[:400]
    assert "security_password_changed" in _kinds(user)


def test_turning_on_a_second_factor_is_notified(client: Client, db: None) -> None:
    from .test_mfa import enrol

    user = User.objects.create_user("carol@example.invalid", PASSWORD)
    client.force_login(user)
    enrol(client)
    assert "security_mfa_changed" in _kinds(user)
