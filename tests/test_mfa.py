"""Second factor: mandatory for practice staff and operators, optional for patients; TOTP codes work once,
recovery codes once each; secrets are encrypted at rest; sensitive changes need the password again."""

from __future__ import annotations

import datetime as dt
import time

import pyotp
import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from creneau.accounts.mfa import MFADevice, RecoveryCode
from creneau.accounts.models import User
from creneau.core import clock
from creneau.web.security_views import PENDING_SECRET

from . import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enforced")]
PASSWORD = "correct horse battery 42"


@pytest.fixture
def enforced() -> object:
    # English pages (/en/… URLs from reverse()) and messages.
    with override_settings(CRENEAU_MFA_ENFORCED=True), translation.override("en"):
        yield


def sign_in(client: Client, user: User) -> object:
    return client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})


def code_for(secret: str) -> str:
    return pyotp.TOTP(secret).at(clock.now())


def enrol(client: Client) -> tuple[str, list[str]]:
    """Go through set-up as the user would; returns the secret and the recovery codes shown."""
    client.get(reverse("accounts:mfa_setup"))
    secret = client.session[PENDING_SECRET]
    response = client.post(reverse("accounts:mfa_setup"), {"code": code_for(secret)})
    assert response.status_code == 200
    codes = response.context["codes"]
    return secret, codes


def test_staff_must_set_up_a_second_factor_before_reaching_practice_pages() -> None:
    staff_user = f.user_of(f.staff(f.organization()))
    client = Client()
    sign_in(client, staff_user)
    response = client.get(reverse("web:staff_home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:mfa_setup"))
    page = client.get(reverse("accounts:mfa_setup"))
    assert b"<svg" in page.content and b"authenticator app" in page.content
    _secret, codes = enrol(client)
    assert len(codes) == 10
    assert client.get(reverse("web:staff_home")).status_code == 200


def test_a_wrong_setup_code_does_not_turn_it_on() -> None:
    staff_user = f.user_of(f.staff(f.organization()))
    client = Client()
    sign_in(client, staff_user)
    client.get(reverse("accounts:mfa_setup"))
    response = client.post(reverse("accounts:mfa_setup"), {"code": "000000"})
    assert b"does not match" in response.content
    assert not MFADevice.objects.filter(user=staff_user).exists()


def test_after_the_password_staff_type_their_code_and_a_code_works_only_once() -> None:
    staff_user = f.user_of(f.staff(f.organization()))
    first = Client()
    sign_in(first, staff_user)
    secret, _codes = enrol(first)

    second = Client()
    sign_in(second, staff_user)
    assert second.get(reverse("web:staff_home"))["Location"].startswith(reverse("accounts:mfa_verify"))
    wrong = second.post(reverse("accounts:mfa_verify"), {"code": "123456"})
    assert b"not valid" in wrong.content
    with clock.frozen_at(clock.now() + dt.timedelta(seconds=31)):  # the set-up code's step is used up
        code = code_for(secret)
        ok = second.post(reverse("accounts:mfa_verify"), {"code": code, "next": reverse("web:staff_home")})
        assert ok.status_code == 302 and ok["Location"] == reverse("web:staff_home")
        assert second.get(reverse("web:staff_home")).status_code == 200

        third = Client()
        sign_in(third, staff_user)
        replay = third.post(reverse("accounts:mfa_verify"), {"code": code})
        assert b"not valid" in replay.content
        assert third.get(reverse("web:staff_home")).status_code == 302


def test_a_recovery_code_opens_the_account_once() -> None:
    staff_user = f.user_of(f.staff(f.organization()))
    c = Client()
    sign_in(c, staff_user)
    _secret, codes = enrol(c)
    again = Client()
    sign_in(again, staff_user)
    assert again.post(reverse("accounts:mfa_verify"), {"code": codes[3].upper()}).status_code == 302
    once_more = Client()
    sign_in(once_more, staff_user)
    assert b"not valid" in once_more.post(reverse("accounts:mfa_verify"), {"code": codes[3]}).content


def test_django_admin_operators_need_the_second_factor_too() -> None:
    admin = User.objects.create_superuser("operateur@example.invalid", PASSWORD)
    client = Client()
    client.post(reverse("admin:login"), {"username": admin.email, "password": PASSWORD})
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:mfa_setup"))


def test_patients_may_skip_it_but_once_on_it_is_asked_at_every_sign_in() -> None:
    user, _patient, _actor = f.patient_account()
    client = Client()
    sign_in(client, user)
    assert client.get(reverse("web:account")).status_code == 200
    enrol(client)
    later = Client()
    sign_in(later, user)
    assert later.get(reverse("web:account"))["Location"].startswith(reverse("accounts:mfa_verify"))


def test_staff_cannot_turn_the_second_factor_off_but_patients_can() -> None:
    staff_user = f.user_of(f.staff(f.organization()))
    c = Client()
    sign_in(c, staff_user)
    enrol(c)
    c.post(reverse("accounts:mfa_disable"))
    assert MFADevice.objects.filter(user=staff_user).exists()
    user, _p, _a = f.patient_account()
    p = Client()
    sign_in(p, user)
    enrol(p)
    p.post(reverse("accounts:mfa_disable"))
    assert not MFADevice.objects.filter(user=user).exists()


def test_second_factor_secrets_are_not_readable_in_the_database() -> None:
    staff_user = f.user_of(f.staff(f.organization()))
    c = Client()
    sign_in(c, staff_user)
    secret, codes = enrol(c)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_mfadevice")
        (stored,) = cursor.fetchone()
        cursor.execute("SELECT code_hash FROM accounts_recoverycode")
        hashes = {h for (h,) in cursor.fetchall()}
    assert secret not in stored and stored.startswith("dev:")
    assert not {c.replace("-", "") for c in codes} & hashes and len(hashes) == 10
    assert RecoveryCode.objects.filter(user=staff_user, used_at__isnull=True).count() == 10


def test_changing_the_second_factor_asks_for_the_password_again() -> None:
    user, _p, _a = f.patient_account()
    c = Client()
    sign_in(c, user)
    enrol(c)
    session = c.session
    session["auth_at"] = int(time.time()) - 3600
    session.save()
    response = c.get(reverse("accounts:mfa_manage"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:reauth"))
    assert b"not correct" in c.post(reverse("accounts:reauth"), {"password": "wrong", "code": "x"}).content
    secret = MFADevice.objects.get(user=user).secret
    # A fresh code (the next time step: the set-up code was already used).
    with clock.frozen_at(clock.now() + dt.timedelta(seconds=31)):
        ok = c.post(
            reverse("accounts:reauth"),
            {"password": PASSWORD, "code": code_for(secret), "next": reverse("accounts:mfa_manage")},
        )
    assert ok.status_code == 302 and ok["Location"] == reverse("accounts:mfa_manage")
    assert c.get(reverse("accounts:mfa_manage")).status_code == 200


def test_changing_ones_details_asks_for_the_password_again() -> None:
    user, _p, _a = f.patient_account()
    c = Client()
    sign_in(c, user)
    assert c.get(reverse("web:profile")).status_code == 200
    session = c.session
    session["auth_at"] = int(time.time()) - 3600
    session.save()
    assert c.get(reverse("web:profile"))["Location"].startswith(reverse("accounts:reauth"))


def test_idle_staff_sessions_end() -> None:
    staff_user = f.user_of(f.staff(f.organization()))
    c = Client()
    sign_in(c, staff_user)
    enrol(c)
    assert c.get(reverse("web:staff_home")).status_code == 200
    session = c.session
    session["last_seen"] = int(time.time()) - 16 * 60
    session.save()
    response = c.get(reverse("web:staff_home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert SESSION_KEY not in c.session


def test_wrong_codes_from_another_address_do_not_block_the_owners_code() -> None:
    """Someone who knows the password types five wrong codes: only their address waits."""
    staff_user = f.user_of(f.staff(f.organization()))
    owner = Client(REMOTE_ADDR="198.51.100.30")
    sign_in(owner, staff_user)
    secret, _codes = enrol(owner)
    attacker = Client(REMOTE_ADDR="203.0.113.40")
    sign_in(attacker, staff_user)
    for _ in range(5):
        attacker.post(reverse("accounts:mfa_verify"), {"code": "000000"})
    paused = attacker.post(reverse("accounts:mfa_verify"), {"code": "000000"})
    assert b"Too many attempts" in paused.content
    with clock.frozen_at(clock.now() + dt.timedelta(seconds=31)):
        again = Client(REMOTE_ADDR="198.51.100.30")
        sign_in(again, staff_user)
        ok = again.post(reverse("accounts:mfa_verify"), {"code": code_for(secret), "next": reverse("web:staff_home")})
        assert ok.status_code == 302 and ok["Location"] == reverse("web:staff_home")
