"""The whole patient journey in Chromium, twice: in French on a 390×844 phone and in English on a
desktop, with a screenshot of each step (test-artifacts/journey-<lang>-NN-*.png). A new patient types
the specialty in everyday words, picks the first time of the first result (on the first screen),
creates an account, opens the e-mailed verification link on another device (a fresh browser: the
chosen time is still the one booked), says for whom, confirms, finds the appointment in the account and
cancels it. Every page of the English journey stays English (links keep the chosen language)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import Browser, Page, expect

from creneau.booking.models import Appointment, Status

from ..notif_support import deliver
from .conftest import ARTIFACTS, PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = {
    "fr": {
        "prefix": "",
        "what": "Spécialité ou praticien",
        "typed": "dermato",
        "where": "Ville, code postal ou arrondissement",
        "search": "Rechercher",
        "book_this": "Réserver cet horaire",
        "sign_in_to_book": "Se connecter ou créer un compte pour réserver",
        "sign_in": "Se connecter",
        "create_account": "Créer un compte",
        "email": "Adresse e-mail",
        "password": "Mot de passe",
        "password_again": "Mot de passe (confirmation)",
        "create": "Créer mon compte",
        "check_email": "Consultez vos e-mails",
        "for_whom": "Pour qui est ce rendez-vous ?",
        "given": "Prénom",
        "family": "Nom",
        "birth": "Date de naissance",
        "confirm": "Confirmer le rendez-vous",
        "confirmed": "Votre rendez-vous est confirmé",
        "ics": "Ajouter à mon agenda (.ics)",
        "mine": "Mes rendez-vous",
        "upcoming": "À venir",
        "cancel": "Annuler le rendez-vous",
        "cancelled": "Votre rendez-vous est annulé.",
        "none": "Aucun rendez-vous à venir.",
    },
    "en": {
        "prefix": "/en",
        "what": "Specialty or practitioner",
        "typed": "skin doctor",
        "where": "Town, postcode or district",
        "search": "Search",
        "book_this": "Book this time",
        "sign_in_to_book": "Sign in or create an account to book",
        "sign_in": "Sign in",
        "create_account": "Create an account",
        "email": "Email address",
        "password": "Password",
        "password_again": "Password again",
        "create": "Create my account",
        "check_email": "Check your email",
        "for_whom": "For whom is this appointment?",
        "given": "Given name",
        "family": "Family name",
        "birth": "Date of birth",
        "confirm": "Confirm the appointment",
        "confirmed": "Your appointment is confirmed",
        "ics": "Add to my calendar (.ics)",
        "mine": "My appointments",
        "upcoming": "Upcoming",
        "cancel": "Cancel the appointment",
        "cancelled": "Your appointment is cancelled.",
        "none": "No upcoming appointment.",
    },
}
DEVICES = {
    "fr": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "fr-FR"},
    "en": {"viewport": {"width": 1280, "height": 900}, "locale": "en-GB"},
}


def _shot(page: Page, lang: str, n: int, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"journey-{lang}-{n:02d}-{name}.png"), full_page=True)


def _in_language(page: Page, lang: str) -> None:
    assert page.locator("html").get_attribute("lang") == lang, page.url
    if lang == "en":
        assert "/en/" in page.url, page.url


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_new_patient_books_and_cancels_in_own_words(
    live_server: object, practice: dict, browser: Browser, lang: str
) -> None:
    w = WORDS[lang]
    base = live_server.url  # type: ignore[attr-defined]
    device = DEVICES[lang]
    ctx = browser.new_context(**device)  # type: ignore[arg-type]
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    page.on("dialog", lambda d: d.accept())
    height = int(device["viewport"]["height"])  # type: ignore[index]

    page.goto(base + w["prefix"] + "/")
    _in_language(page, lang)
    _shot(page, lang, 1, "home")
    page.get_by_label(w["what"]).fill(w["typed"])
    page.get_by_label(w["where"]).fill("Lyon")
    page.get_by_role("button", name=w["search"]).click()
    doc = practice["doc"]
    expect(page.get_by_role("link", name=doc.display_name, exact=True)).to_be_visible()
    _in_language(page, lang)
    first = page.locator(".result").first
    box = first.bounding_box()
    assert box is not None and box["y"] < height  # the first result starts on the first screen
    _shot(page, lang, 2, "results")

    slot = page.locator(".result .slot").first
    chosen = slot.get_attribute("href")
    slot.click()
    expect(page.get_by_role("heading", name=w["book_this"])).to_be_visible()
    _in_language(page, lang)
    _shot(page, lang, 3, "chosen-time")
    page.get_by_role("button", name=w["sign_in_to_book"]).click()

    expect(page.get_by_role("heading", name=w["sign_in"])).to_be_visible()
    _in_language(page, lang)
    page.get_by_role("link", name=w["create_account"]).last.click()
    email = f"journey-{lang}@example.invalid"
    page.get_by_label(w["email"]).fill(email)
    page.get_by_label(w["password"], exact=True).fill(PASSWORD)
    page.get_by_label(w["password_again"]).fill(PASSWORD)
    _in_language(page, lang)
    _shot(page, lang, 4, "signup")
    page.get_by_role("button", name=w["create"]).click()
    expect(page.get_by_role("heading", name=w["check_email"])).to_be_visible()
    _shot(page, lang, 5, "check-email")

    deliver()
    (message,) = [m for m in mail.outbox if m.to == [email]]
    link = re.search(r"https?://[^/\s]+(/\S*accounts/verify/\S+)", str(message.body))
    assert link is not None
    if lang == "en":
        assert link.group(1).startswith("/en/")  # the e-mail keeps the language too
    # Opened on another device: a fresh browser, no cookie of the first one.
    other = browser.new_context(**device)  # type: ignore[arg-type]
    other.set_default_timeout(15_000)
    phone = other.new_page()
    phone.on("dialog", lambda d: d.accept())
    phone.goto(base + link.group(1))
    expect(phone.get_by_role("heading", name=w["for_whom"])).to_be_visible()
    _in_language(phone, lang)
    phone.get_by_label(w["given"]).first.fill("Nina")
    phone.get_by_label(w["family"], exact=True).first.fill("Nouvelle")
    phone.get_by_label(w["birth"]).first.fill("1990-05-01")
    _shot(phone, lang, 6, "for-whom-other-device")
    phone.get_by_role("button", name=w["confirm"]).click()

    expect(phone.get_by_role("heading", name=w["confirmed"])).to_be_visible()
    expect(phone.get_by_role("link", name=w["ics"])).to_be_visible()
    _in_language(phone, lang)
    _shot(phone, lang, 7, "confirmed")
    appointment = Appointment.objects.get(status=Status.BOOKED)
    assert appointment.practitioner_id == doc.pk
    stamp = appointment.start_at.strftime("%Y%m%dT%H%MZ")
    assert chosen is not None and stamp in chosen  # the time chosen on the first device

    phone.get_by_role("link", name=w["mine"]).last.click()
    expect(phone.get_by_role("heading", name=w["upcoming"])).to_be_visible()
    _in_language(phone, lang)
    _shot(phone, lang, 8, "my-appointments")
    phone.get_by_role("link", name=doc.display_name, exact=True).click()
    phone.get_by_role("button", name=w["cancel"]).click()
    expect(phone.get_by_text(w["cancelled"])).to_be_visible()
    expect(phone.get_by_text(w["none"])).to_be_visible()
    _in_language(phone, lang)
    _shot(phone, lang, 9, "cancelled")
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    other.close()
    ctx.close()
