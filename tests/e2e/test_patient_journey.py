"""A new patient finds a dermatologist in Lyon, registers, books, sees it in the account, cancels."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from creneau.booking.models import Appointment, Status

from ..notif_support import deliver
from .conftest import PASSWORD, shot

pytestmark = pytest.mark.django_db(transaction=True)


def test_new_patient_finds_registers_books_and_cancels(live_server: object, practice: dict, new_page: object) -> None:
    page = new_page()  # type: ignore[operator]
    page.goto(live_server.url + "/")  # type: ignore[attr-defined]
    expect(page.get_by_role("heading", name="Prenez rendez-vous avec un professionnel de santé")).to_be_visible()
    shot(page, "01-home")

    page.get_by_label("Spécialité").fill("Dermatologie et vénéréologie")
    page.get_by_label("Ville, code postal ou arrondissement").fill("Lyon")
    page.get_by_role("button", name="Rechercher").click()
    doc = practice["doc"]
    expect(page.get_by_role("link", name=doc.display_name, exact=True)).to_be_visible()
    expect(page.locator(".result .distance").first).to_contain_text("km")
    shot(page, "02-search-results")

    page.locator(".result .slot").first.click()
    expect(page.get_by_role("heading", name="Réserver cet horaire")).to_be_visible()
    shot(page, "03-chosen-time")
    page.get_by_role("button", name="Se connecter ou créer un compte pour réserver").click()

    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()
    page.get_by_role("link", name="Créer un compte").last.click()
    page.get_by_label("Adresse e-mail").fill("nina@example.invalid")
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Mot de passe (confirmation)").fill(PASSWORD)
    shot(page, "04-signup")
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page.get_by_role("heading", name="Consultez vos e-mails")).to_be_visible()

    deliver()  # the worker sends the outbox
    to_nina = [m for m in mail.outbox if m.to == ["nina@example.invalid"]]
    assert len(to_nina) == 1
    link = re.search(r"https?://[^/\s]+(/\S*accounts/verify/\S+)", str(to_nina[0].body))
    assert link is not None
    page.goto(live_server.url + link.group(1))  # type: ignore[attr-defined]

    expect(page.get_by_role("heading", name="Pour qui est ce rendez-vous ?")).to_be_visible()
    page.get_by_label("Prénom").first.fill("Nina")
    page.get_by_label("Nom", exact=True).first.fill("Nouvelle")
    page.get_by_label("Date de naissance").first.fill("1990-05-01")
    shot(page, "05-for-whom")
    page.get_by_role("button", name="Confirmer le rendez-vous").click()

    expect(page.get_by_role("heading", name="Votre rendez-vous est confirmé")).to_be_visible()
    expect(page.get_by_role("link", name="Ajouter à mon agenda (.ics)")).to_be_visible()
    shot(page, "06-confirmed")
    appointment = Appointment.objects.get(status=Status.BOOKED)
    assert appointment.practitioner_id == doc.pk

    page.get_by_role("link", name="Mes rendez-vous").last.click()
    expect(page.get_by_role("heading", name="À venir")).to_be_visible()
    expect(page.get_by_role("link", name=doc.display_name, exact=True)).to_be_visible()
    shot(page, "07-my-appointments")

    page.get_by_role("link", name=doc.display_name, exact=True).click()
    page.get_by_role("button", name="Annuler le rendez-vous").click()
    expect(page.get_by_text("Votre rendez-vous est annulé.")).to_be_visible()
    expect(page.get_by_text("Aucun rendez-vous à venir.")).to_be_visible()
    shot(page, "08-cancelled")
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
