"""Passkeys (WebAuthn): adding one after re-authentication, signing in with it (second step or alone),
removing it; audited, e-mailed; and the refusals a phishing site, a replay, a clone or a removed key
meet. The answers come from a software authenticator (tests/webauthn_support.py); Chromium's virtual
authenticator drives the same pages in tests/e2e/test_passkeys_browser.py."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyotp
import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from creneau.accounts import mfa, passkeys
from creneau.accounts.models import User
from creneau.accounts.passkeys import Passkey, PasskeyChallenge
from creneau.accounts.reauth import SESSION_AUTH_AT
from creneau.audit.models import AuditEvent
from creneau.core import clock
from creneau.core.errors import NotFound, PolicyViolation
from creneau.directory.models import Organization
from creneau.notifications.models import Kind, OutboundMessage

from . import factories as f
from .webauthn_support import SoftKey

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("relying_party")]
PASSWORD = "correct horse battery 42"
ORIGIN = "http://localhost:8000"


@pytest.fixture
def relying_party() -> Any:
    with (
        override_settings(CRENEAU_WEBAUTHN_RP_ID="localhost", CRENEAU_WEBAUTHN_ORIGINS=[ORIGIN]),
        translation.override("en"),
    ):
        yield


def options(client: Client, name: str, **data: str) -> dict[str, Any]:
    response = client.post(reverse(name), data)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    return dict(json.loads(response.content))


def add_passkey(client: Client, key: SoftKey, **forge: str) -> Any:
    """Ask for registration options and answer them with `key` (forging RP id or origin if asked)."""
    opts = options(client, "accounts:passkey_register_options")
    return client.post(
        reverse("accounts:passkey_register"), {"credential": key.create(opts, **forge), "name": "Bureau"}
    )


def passkey_sign_in(client: Client, key: SoftKey, **forge: Any) -> Any:
    opts = options(client, "accounts:passkey_login_options")
    return client.post(reverse("accounts:passkey_login"), {"credential": key.get(opts, **forge)})


def patient_with_passkey() -> tuple[User, SoftKey]:
    user, _patient, _actor = f.patient_account()
    client = Client()
    client.force_login(user)
    key = SoftKey()
    assert add_passkey(client, key).status_code == 200
    return user, key


def kinds(user: User) -> list[str]:
    return list(OutboundMessage.objects.filter(user_id=user.pk).values_list("kind", flat=True))


def test_adding_a_passkey_is_audited_and_emailed_and_it_then_signs_in_alone() -> None:
    user, key = patient_with_passkey()
    passkey = Passkey.objects.get(user=user)
    assert passkey.name == "Bureau" and passkey.transports == ["internal"] and passkey.sign_count == 0
    event = AuditEvent.objects.get(via="passkey_register")
    assert event.object_id == str(passkey.pk) and event.principal == f"user:{user.pk}"
    assert "Bureau" not in json.dumps(event.changes)  # the typed name stays out of the trail
    assert kinds(user) == [Kind.SECURITY_PASSKEY_CHANGED]
    assert "clé d'accès (passkey) a été ajoutée" in OutboundMessage.objects.get(user_id=user.pk).body_text

    browser = Client()
    response = passkey_sign_in(browser, key)
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["redirect"] == reverse("web:account")
    assert browser.get(reverse("web:account")).status_code == 200
    assert browser.session[passkeys.SESSION_METHOD] == "passkey"
    passkey.refresh_from_db()
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    assert AuditEvent.objects.filter(via="passkey_sign_in", object_id=str(user.pk)).count() == 1


def test_adding_a_passkey_needs_a_recent_reauthentication() -> None:
    user, _patient, _actor = f.patient_account()
    client = Client()
    client.force_login(user)
    session = client.session
    session[SESSION_AUTH_AT] = int(clock.now().timestamp()) - 3 * 3600
    session.save()
    response = client.post(reverse("accounts:passkey_register_options"))
    assert response.status_code == 403
    assert json.loads(response.content)["redirect"].startswith(reverse("accounts:reauth"))
    page = client.get(reverse("accounts:passkeys"))
    assert page.status_code == 302 and page["Location"].startswith(reverse("accounts:reauth"))
    assert not PasskeyChallenge.objects.exists()


def test_a_password_alone_cannot_add_a_passkey_beside_an_authenticator_app() -> None:
    """Someone who learned the password of an account with a TOTP app must not add their own passkey."""
    user, _patient, _actor = f.patient_account()
    mfa.confirm_setup(user=user, secret=(secret := pyotp.random_base32()), code=pyotp.TOTP(secret).now())
    client = Client()
    client.force_login(user)  # password step only
    response = client.post(reverse("accounts:passkey_register_options"))
    assert response.status_code == 403
    assert json.loads(response.content)["redirect"].startswith(reverse("accounts:mfa_verify"))
    assert not Passkey.objects.exists()


@pytest.mark.parametrize("forge", [{"origin": "https://creneau-rdv.example"}, {"rp_id": "creneau-rdv.example"}])
def test_a_registration_made_for_another_origin_or_rp_id_is_refused(forge: dict[str, str]) -> None:
    user, _patient, _actor = f.patient_account()
    client = Client()
    client.force_login(user)
    response = add_passkey(client, SoftKey(), **forge)
    assert response.status_code == 400
    assert "could not be checked for this site" in json.loads(response.content)["error"]
    assert not Passkey.objects.exists() and not AuditEvent.objects.filter(via="passkey_register").exists()
    assert kinds(user) == []


@pytest.mark.parametrize("forge", [{"origin": "https://creneau-rdv.example"}, {"rp_id": "creneau-rdv.example"}])
def test_a_sign_in_made_on_a_phishing_site_is_refused(forge: dict[str, str]) -> None:
    _user, key = patient_with_passkey()
    browser = Client()
    response = passkey_sign_in(browser, key, **forge)
    assert response.status_code == 400
    assert "_auth_user_id" not in browser.session


def test_a_replayed_answer_is_refused_the_challenge_was_used() -> None:
    _user, key = patient_with_passkey()
    browser = Client()
    opts = options(browser, "accounts:passkey_login_options")
    answer = key.get(opts)
    assert browser.post(reverse("accounts:passkey_login"), {"credential": answer}).status_code == 200
    attacker = Client()
    stale = attacker.post(reverse("accounts:passkey_login"), {"credential": answer})
    assert stale.status_code == 400 and json.loads(stale.content)["code"] == "challenge"
    # Even restoring the session's copy of the challenge does not revive it: the table's row is gone.
    options(attacker, "accounts:passkey_login_options")
    session = attacker.session
    session[passkeys.SESSION_CHALLENGE] = {"purpose": "sign_in", "value": opts["challenge"]}
    session.save()
    again = attacker.post(reverse("accounts:passkey_login"), {"credential": answer})
    assert again.status_code == 400 and json.loads(again.content)["code"] == "challenge"
    assert "_auth_user_id" not in attacker.session


def test_an_expired_challenge_is_refused() -> None:
    _user, key = patient_with_passkey()
    browser = Client()
    opts = options(browser, "accounts:passkey_login_options")
    PasskeyChallenge.objects.update(expires_at=clock.now() - dt.timedelta(seconds=1))
    response = browser.post(reverse("accounts:passkey_login"), {"credential": key.get(opts)})
    assert response.status_code == 400 and "expired" in json.loads(response.content)["error"]


def test_a_cloned_authenticator_with_a_lower_counter_is_refused() -> None:
    user, key = patient_with_passkey()
    assert passkey_sign_in(Client(), key, counter=5).status_code == 200
    clone = passkey_sign_in(Client(), key, counter=3)
    assert clone.status_code == 400
    assert Passkey.objects.get(user=user).sign_count == 5


def test_a_removed_passkey_no_longer_signs_in_and_its_owner_is_told() -> None:
    user, key = patient_with_passkey()
    owner = Client()
    owner.force_login(user)
    passkey = Passkey.objects.get(user=user)
    response = owner.post(reverse("accounts:passkey_remove", args=[passkey.pk]))
    assert response.status_code == 302 and not Passkey.objects.exists()
    assert AuditEvent.objects.filter(via="passkey_remove", object_id=str(passkey.pk)).count() == 1
    assert kinds(user).count(Kind.SECURITY_PASSKEY_CHANGED) == 2
    refused = passkey_sign_in(Client(), key)
    assert refused.status_code == 400 and json.loads(refused.content)["code"] == "unknown-passkey"


def test_another_accounts_passkey_cannot_be_removed_and_answers_like_a_missing_one() -> None:
    user, _key = patient_with_passkey()
    other, _p, _a = f.patient_account()
    intruder = Client()
    intruder.force_login(other)
    passkey = Passkey.objects.get(user=user)
    foreign = intruder.post(reverse("accounts:passkey_remove", args=[passkey.pk]))
    missing = intruder.post(reverse("accounts:passkey_remove", args=["5b1f1c0e-0000-4000-8000-000000000000"]))
    assert foreign.status_code == missing.status_code == 404
    assert Passkey.objects.filter(pk=passkey.pk).exists()
    with pytest.raises(NotFound):
        from creneau.accounts import services
        from creneau.core.actors import Actor

        services.passkey_remove(actor=Actor.for_patient(other), user=user, passkey_id=passkey.pk)


@override_settings(CRENEAU_MFA_ENFORCED=True)
def test_a_passkey_is_a_second_step_after_the_password() -> None:
    user, key = patient_with_passkey()
    browser = Client()
    browser.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    page = browser.get(reverse("web:account"))
    assert page.status_code == 302 and page["Location"].startswith(reverse("accounts:mfa_verify"))
    verify = browser.get(page["Location"])
    assert b"Use a passkey" in verify.content
    opts = options(browser, "accounts:passkey_check_options", purpose="second_factor")
    assert [c["id"] for c in opts["allowCredentials"]] == [key.id]
    done = browser.post(reverse("accounts:passkey_check"), {"credential": key.get(opts), "purpose": "second_factor"})
    assert done.status_code == 200, done.content
    assert browser.get(reverse("web:account")).status_code == 200


@override_settings(CRENEAU_MFA_ENFORCED=True)
def test_staff_of_an_organization_requiring_passkeys_are_sent_to_add_one_then_must_use_it() -> None:
    org = f.organization()
    staff = f.user_of(f.staff(org))
    Organization.objects.filter(pk=org.pk).update(require_passkeys=True)
    browser = Client()
    browser.post(reverse("accounts:login"), {"username": staff.email, "password": PASSWORD})
    page = browser.get(reverse("web:staff_home"))
    assert page.status_code == 302 and page["Location"].startswith(reverse("accounts:passkeys"))
    enrol = browser.get(page["Location"])
    assert b"Your organization requires a passkey" in enrol.content
    key = SoftKey()
    assert add_passkey(browser, key).status_code == 200
    assert browser.get(reverse("web:staff_home")).status_code == 200

    # Next sign-in: the passkey is the only way through, an authenticator code does not pass.
    mfa.confirm_setup(user=staff, secret=(secret := pyotp.random_base32()), code=pyotp.TOTP(secret).now())
    later = Client()
    later.post(reverse("accounts:login"), {"username": staff.email, "password": PASSWORD})
    step = later.get(reverse("accounts:mfa_verify"))
    assert b"requires a passkey" in step.content and b'name="code"' not in step.content
    refused = later.post(reverse("accounts:mfa_verify"), {"code": pyotp.TOTP(secret).now()})
    assert refused.status_code == 400
    assert later.get(reverse("web:staff_home")).status_code == 302
    opts = options(later, "accounts:passkey_check_options", purpose="second_factor")
    later.post(reverse("accounts:passkey_check"), {"credential": key.get(opts), "purpose": "second_factor"})
    assert later.get(reverse("web:staff_home")).status_code == 200

    # Their only passkey cannot be removed while the organization requires one.
    from creneau.accounts import services
    from creneau.accounts.selectors import staff_actor

    with pytest.raises(PolicyViolation):
        services.passkey_remove(actor=staff_actor(staff), user=staff, passkey_id=Passkey.objects.get(user=staff).pk)


@override_settings(CRENEAU_MFA_ENFORCED=True)
def test_an_organization_admin_requires_passkeys_audited() -> None:
    org = f.organization()
    admin = f.user_of(f.staff(org, "org_admin"))
    mfa.confirm_setup(user=admin, secret=(secret := pyotp.random_base32()), code=pyotp.TOTP(secret).now())
    browser = Client()
    browser.force_login(admin)
    session = browser.session
    mfa_key = mfa.SESSION_VERIFIED
    session[mfa_key] = str(admin.pk)
    session.save()
    response = browser.post(reverse("web:team_passkeys", args=[org.pk]), {"required": "1"})
    assert response.status_code == 302
    assert Organization.objects.get(pk=org.pk).require_passkeys
    event = AuditEvent.objects.get(via="organization_passkeys_require")
    assert event.changes == {"require_passkeys": [False, True]}
    other_org = f.organization("Autre cabinet")
    foreign = browser.post(reverse("web:team_passkeys", args=[other_org.pk]), {"required": "1"})
    assert foreign.status_code == 404
    assert not Organization.objects.get(pk=other_org.pk).require_passkeys
