"""Passkeys in Chromium with its virtual authenticator (CDP WebAuthn.addVirtualAuthenticator), on a
360-pixel-wide screen: a secretary whose practice requires passkeys is sent to add one, then passes the
second step and later signs in with it alone; a patient removes theirs and can no longer use it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from playwright.sync_api import Browser, Page, expect

from creneau.accounts.passkeys import Passkey
from creneau.audit.models import AuditEvent
from creneau.directory.models import Organization
from creneau.notifications.models import Kind, OutboundMessage

from .. import factories as f
from .conftest import PASSWORD, shot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def relying_party(live_server: Any) -> Iterator[str]:
    """The live server as the relying party (localhost: a secure context for WebAuthn)."""
    base = str(live_server.url)
    with override_settings(
        CRENEAU_MFA_ENFORCED=True, CRENEAU_WEBAUTHN_RP_ID="localhost", CRENEAU_WEBAUTHN_ORIGINS=[base]
    ):
        yield base


def phone(browser: Browser) -> Page:
    """A 360-pixel-wide browser with a platform authenticator that verifies its user (PIN/biometrics)."""
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return page


def no_sideways_scroll(page: Page) -> None:
    assert int(page.evaluate("document.documentElement.scrollWidth")) <= 360


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Se déconnecter").first.click()


def test_practice_requiring_passkeys_enrols_then_signs_in_with_one(relying_party: str, browser: Browser) -> None:
    base = relying_party
    org = f.organization("Cabinet Clé")
    Organization.objects.filter(pk=org.pk).update(require_passkeys=True)
    secretary = f.user_of(f.staff(org))
    secretary.set_password(PASSWORD)
    secretary.save()
    page = phone(browser)

    sign_in(page, base, secretary.email)
    expect(page.get_by_role("heading", name="Clés d'accès")).to_be_visible()
    expect(page.get_by_text("Votre organisation exige une clé d'accès")).to_be_visible()
    no_sideways_scroll(page)
    shot(page, "passkeys-01-enrol-360")
    page.get_by_label("Nom de cette clé d'accès").fill("Poste de l'accueil")
    page.get_by_role("button", name="Ajouter une clé d'accès").click()
    expect(page.get_by_text("Votre clé d'accès est ajoutée")).to_be_visible()
    passkey = Passkey.objects.get(user=secretary)
    assert passkey.name == "Poste de l'accueil" and "internal" in passkey.transports
    assert AuditEvent.objects.filter(via="passkey_register", object_id=str(passkey.pk)).count() == 1
    assert OutboundMessage.objects.filter(user_id=secretary.pk, kind=Kind.SECURITY_PASSKEY_CHANGED).count() == 1
    page.goto(base + "/practice/")
    assert page.url.startswith(base + "/practice/")

    # The next sign-in: password, then the passkey as the second step (no code is offered).
    sign_out(page)
    sign_in(page, base, secretary.email)
    expect(page.get_by_role("heading", name="Validation en deux étapes")).to_be_visible()
    assert page.get_by_label("Code de sécurité").count() == 0
    no_sideways_scroll(page)
    shot(page, "passkeys-02-second-step-360")
    page.get_by_role("button", name="Utiliser une clé d'accès").click()
    page.wait_for_url(base + "/practice/**")

    # And without the password at all.
    sign_out(page)
    page.goto(base + "/accounts/login/")
    no_sideways_scroll(page)
    page.get_by_role("button", name="Utiliser une clé d'accès").click()
    page.wait_for_url(base + "/practice/**")
    assert AuditEvent.objects.filter(via="passkey_sign_in", object_id=str(secretary.pk)).count() == 1
    passkey.refresh_from_db()
    assert passkey.sign_count >= 2 and passkey.last_used_at is not None


def test_a_patient_removes_a_passkey_and_it_no_longer_opens_the_account(relying_party: str, browser: Browser) -> None:
    base = relying_party
    user, _patient, _actor = f.patient_account("cle@example.invalid")
    user.set_password(PASSWORD)
    user.save()
    page = phone(browser)
    sign_in(page, base, user.email)
    page.goto(base + "/accounts/passkeys/")
    page.get_by_role("button", name="Ajouter une clé d'accès").click()
    expect(page.get_by_text("Votre clé d'accès est ajoutée")).to_be_visible()
    expect(page.get_by_text("jamais utilisée")).to_be_visible()
    no_sideways_scroll(page)
    shot(page, "passkeys-03-list-360")

    page.get_by_role("button", name="Retirer").click()
    expect(page.get_by_text("La clé d'accès est retirée")).to_be_visible()
    assert not Passkey.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(via="passkey_remove").count() == 1

    # The authenticator still holds the credential; the site no longer accepts it.
    sign_out(page)
    page.goto(base + "/accounts/login/")
    page.get_by_role("button", name="Utiliser une clé d'accès").click()
    expect(page.get_by_text("Cette clé d'accès n'est pas (ou plus) enregistrée")).to_be_visible()
    assert "/accounts/login/" in page.url
