"""A secretary books a phone caller from the week view; two patients race for one slot."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from creneau.booking.models import Appointment, Status

from .. import factories as f
from .conftest import PASSWORD, shot

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def test_secretary_books_a_phone_caller_in_the_week_view(live_server: object, practice: dict, new_page: object) -> None:
    page = new_page()  # type: ignore[operator]
    base = live_server.url  # type: ignore[attr-defined]
    sign_in(page, base, practice["secretary"].user.email)
    shot(page, "09-staff-signed-in")
    page.get_by_role("link", name="Mon cabinet").click()
    page.get_by_role("link", name="Semaine").first.click()
    expect(page.get_by_role("heading", name=f"Agenda — {practice['doc'].display_name}")).to_be_visible()
    shot(page, "10-agenda-week")

    page.locator(".entry.free a").first.click()
    expect(page.get_by_role("heading", name="Réserver pour un appelant")).to_be_visible()
    page.get_by_label("Nom").first.fill("Appelant")
    page.get_by_label("Date de naissance").first.fill("1970-01-01")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_text("APPELANT Paul")).to_be_visible()
    shot(page, "11-caller-found")
    page.get_by_role("button", name="Réserver pour ce patient").click()

    expect(page.get_by_text("Rendez-vous réservé.")).to_be_visible()
    expect(page.locator(".entry.booked").first).to_contain_text("APPELANT Paul")
    shot(page, "12-agenda-booked")
    booked = Appointment.objects.get(status=Status.BOOKED)
    assert booked.patient_id == practice["caller"].pk and booked.source == "phone"


def test_two_patients_race_for_one_slot_and_the_loser_is_told(
    live_server: object, practice: dict, new_page: object
) -> None:
    base = live_server.url  # type: ignore[attr-defined]
    for email in ("ana@example.invalid", "ben@example.invalid"):
        user, _patient, _actor = f.patient_account(email)
        user.set_password(PASSWORD)
        user.save()
    ana, ben = new_page(), new_page()  # type: ignore[operator]
    sign_in(ana, base, "ana@example.invalid")
    sign_in(ben, base, "ben@example.invalid")
    ana.goto(f"{base}/practitioners/{practice['doc'].pk}/")
    shot(ana, "20-practitioner-page")
    slot_url = ana.locator(".week .slot").first.get_attribute("href")
    assert slot_url
    ana.goto(base + slot_url)
    ben.goto(base + slot_url)
    # Both see the same free time; Ana clicks first.
    ana.get_by_role("button", name="Continuer").click()
    expect(ana.get_by_role("heading", name="Pour qui est ce rendez-vous ?")).to_be_visible()
    ben.get_by_role("button", name="Continuer").click()
    expect(ben.get_by_role("heading", name="Cet horaire n’est plus disponible")).to_be_visible()
    expect(ben.get_by_text("Désolé, cet horaire vient d’être pris.")).to_be_visible()
    expect(ben.locator(".slot").first).to_be_visible()  # next free times offered
    shot(ben, "21-race-lost")
    # Ana finishes her booking.
    ana.get_by_role("button", name="Confirmer le rendez-vous").click()
    expect(ana.get_by_role("heading", name="Votre rendez-vous est confirmé")).to_be_visible()
    assert Appointment.objects.filter(status=Status.BOOKED).count() == 1
