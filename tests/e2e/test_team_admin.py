"""An organization admin runs the team from a phone (360 px wide, no sideways scrolling): invites a
secretary by e-mail, the secretary opens the e-mailed link and creates her account, the admin gives her
rights on an agenda. Real Chromium against the live server; the e-mail is the one the outbox sends."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import Browser, Page, ViewportSize, expect

from creneau.accounts.models import AgendaAccess, Membership, Role, User
from creneau.accounts.team import AgendaRights
from creneau.notifications import outbox
from creneau.notifications.models import Kind, OutboundMessage

from .. import factories as f
from .conftest import PASSWORD, shot

pytestmark = pytest.mark.django_db(transaction=True)

PHONE: ViewportSize = {"width": 360, "height": 740}


def phone_page(browser: Browser) -> Page:
    ctx = browser.new_context(viewport=PHONE, locale="fr-FR")
    ctx.set_default_timeout(15_000)
    return ctx.new_page()


def fits(page: Page) -> None:
    """The page is no wider than the phone's screen."""
    assert int(page.evaluate("document.documentElement.scrollWidth")) <= PHONE["width"], page.url


def test_admin_invites_a_secretary_who_joins_then_gets_rights_on_a_phone(
    live_server: object, practice: dict, browser: Browser
) -> None:
    base = live_server.url  # type: ignore[attr-defined]
    admin = f.staff(practice["org"], Role.ORG_ADMIN)
    assert admin.user is not None
    f.user_of(admin).set_password(PASSWORD)
    f.user_of(admin).save()
    agenda = practice["doc"].agendas.get()

    page = phone_page(browser)
    page.goto(base + "/accounts/login/")
    page.get_by_label("Adresse e-mail").fill(f.user_of(admin).email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.goto(base + "/practice/team/")
    expect(page.get_by_role("heading", name="Équipe", exact=True)).to_be_visible()
    fits(page)
    shot(page, "40-team-360")

    page.get_by_role("link", name="Inviter un membre").click()
    fits(page)
    page.get_by_label("Adresse e-mail").fill("nouvelle.secretaire@example.invalid")
    page.get_by_label("Rôle").select_option("secretary")
    page.get_by_label(f"Voir — {practice['doc'].display_name}").check()
    shot(page, "41-team-invite-360")
    page.get_by_role("button", name="Envoyer l’invitation").click()
    expect(page.get_by_text("Invitation envoyée.")).to_be_visible()
    expect(page.get_by_text("nouvelle.secretaire@example.invalid")).to_be_visible()
    fits(page)

    # The e-mail as it leaves the outbox carries the only usable link.
    message = OutboundMessage.objects.get(kind=Kind.TEAM_INVITATION)
    assert outbox.deliver_ids([message.pk]) == 1
    [sent] = [m for m in mail.outbox if m.to == ["nouvelle.secretaire@example.invalid"]]
    link = re.search(r"https?://\S+/team/invitation/[A-Za-z0-9_-]+/", str(sent.body))
    assert link is not None
    path = "/" + link.group(0).split("/", 3)[3]

    invited = phone_page(browser)
    invited.goto(base + path)
    expect(invited.get_by_role("heading", name=re.compile("Rejoindre l’équipe"))).to_be_visible()
    fits(invited)
    shot(invited, "42-team-accept-360")
    invited.get_by_label("Choisissez un mot de passe").fill("une phrase de passe solide 42")
    invited.get_by_label("Mot de passe (confirmation)").fill("une phrase de passe solide 42")
    invited.get_by_role("button", name="Créer mon compte et rejoindre l’équipe").click()
    invited.wait_for_load_state()
    fits(invited)
    user = User.objects.by_email("nouvelle.secretaire@example.invalid").get()
    membership = Membership.objects.get(user=user, organization=practice["org"])
    assert membership.role == Role.SECRETARY
    assert AgendaRights.of(AgendaAccess.objects.get(user=user, agenda=agenda)) == AgendaRights(view=True)

    # The same link again: refused, with the reason.
    replay = phone_page(browser)
    replay.goto(base + path)
    expect(replay.get_by_text("Cette invitation a déjà été utilisée.")).to_be_visible()

    page.goto(base + "/practice/team/")
    fits(page)
    page.locator(".team-member", has_text="nouvelle.secretaire@example.invalid").get_by_role(
        "link", name="Modifier le rôle ou les droits"
    ).click()
    fits(page)
    page.get_by_label(f"Réserver — {practice['doc'].display_name}").check()
    page.get_by_label(f"Gérer — {practice['doc'].display_name}").check()
    page.get_by_role("button", name="Enregistrer les droits").click()
    expect(page.get_by_text("Droits enregistrés.")).to_be_visible()
    fits(page)
    shot(page, "43-team-rights-360")
    assert AgendaRights.of(AgendaAccess.objects.get(user=user, agenda=agenda)) == AgendaRights(True, True, True)
