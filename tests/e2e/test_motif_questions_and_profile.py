"""In Chromium at 360 px: the practice profile on the public page (photo, phone, fees, access), then
the visit reason's question in the booking flow (refused unanswered, kept once answered) and its
instructions on the confirmation."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from creneau.booking.models import Appointment, Status
from creneau.directory import services as directory
from creneau.scheduling import services as scheduling

from .. import factories as f
from .conftest import PASSWORD, shot

pytestmark = pytest.mark.django_db(transaction=True)


def _png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x20\x60\xa0" * 8 for _ in range(8))
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _get(practice: Any, name: str) -> Any:
    return practice[name] if isinstance(practice, dict) else getattr(practice, name)


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_profile_shown_publicly_and_question_answered_in_the_booking_flow(
    live_server: object, practice: Any, browser: Any
) -> None:
    doc, motif, secretary, site = (_get(practice, n) for n in ("doc", "motif", "secretary", "site"))
    agenda = f.agenda(doc)
    directory.practitioner_profile_update(
        actor=secretary,
        agenda_id=agenda.pk,
        convention_sector="2",
        optam=True,
        fees="Consultation 50 €",
        tiers_payant=True,
        payment_methods=["card", "cheque"],
    )
    directory.site_profile_update(
        actor=secretary,
        agenda_id=agenda.pk,
        site_id=site.pk,
        phone="04 78 12 34 56",
        wheelchair_access=True,
        floor="2e étage, ascenseur",
        transport="Métro B, Saxe-Gambetta",
    )
    directory.practitioner_photo_set(actor=secretary, agenda_id=agenda.pk, data=_png())
    scheduling.motif_update(actor=secretary, motif_id=motif.pk, instructions="Apportez vos anciennes ordonnances.")
    scheduling.motif_question_add(actor=secretary, motif_id=motif.pk, text="Avez-vous une ordonnance ?")
    user, _patient, _actor = f.patient_account("lea@example.invalid")
    user.set_password(PASSWORD)
    user.save()

    ctx = browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    base = live_server.url  # type: ignore[attr-defined]
    page.goto(base + "/accounts/login/")
    page.get_by_label("Adresse e-mail").fill("lea@example.invalid")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()

    page.goto(f"{base}/practitioners/{doc.pk}/")
    photo = page.get_by_role("img", name=f"Photo de {doc.display_name}")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.complete && img.naturalWidth === 8")
    for text in ("04 78 12 34 56", "Consultation 50 €", "Signataire de l'OPTAM", "Accessible en fauteuil roulant"):
        expect(page.get_by_text(text, exact=False).first).to_be_visible()
    _no_sideways_scroll(page)
    shot(page, "settings16-01-public-profile-360")

    slot_url = page.locator(".week .slot").first.get_attribute("href")
    assert slot_url
    page.goto(base + slot_url)
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", name="Pour qui est ce rendez-vous ?")).to_be_visible()
    question = page.get_by_label("Avez-vous une ordonnance ?")
    expect(question).to_be_visible()
    _no_sideways_scroll(page)
    page.get_by_label("Moi").first.check()
    page.get_by_role("button", name="Confirmer le rendez-vous").click()
    expect(page.get_by_text("Veuillez répondre à cette question.")).to_be_visible()
    assert not Appointment.objects.filter(status=Status.BOOKED).exists()
    shot(page, "settings16-02-question-required-360")

    page.get_by_label("Avez-vous une ordonnance ?").fill("Oui, du Dr Martin")
    page.get_by_role("button", name="Confirmer le rendez-vous").click()
    expect(page.get_by_role("heading", name="Votre rendez-vous est confirmé")).to_be_visible()
    expect(page.get_by_text("Apportez vos anciennes ordonnances.")).to_be_visible()
    _no_sideways_scroll(page)
    shot(page, "settings16-03-confirmed-with-instructions-360")
    booked = Appointment.objects.get(status=Status.BOOKED)
    assert booked.answer_list() == [{"q": "Avez-vous une ordonnance ?", "a": "Oui, du Dr Martin"}]
    ctx.close()
