"""The patient file in Chromium at 1366×900: a secretary finds a patient by part of the name, opens
the file, writes a note and blocks online booking; the patient is told and their next online booking
is refused with the practice's message. At 360 px the page has no sideways scroll."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Browser, expect

from creneau.booking import services
from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef
from creneau.core import clock
from creneau.notifications.models import Kind, OutboundMessage
from creneau.patients.models import BookingBlock

from .. import factories as f
from .conftest import PASSWORD, shot
from .test_practice_and_race import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_secretary_finds_a_patient_and_blocks_online_booking(
    live_server: object, practice: dict, browser: Browser
) -> None:
    base = live_server.url  # type: ignore[attr-defined]
    user, patient, actor = f.patient_account("lea@example.invalid", given_name="Léa")
    patient.family_name = "Lefèvre-Dupré"
    patient.save()
    user.set_password(PASSWORD)
    user.save()
    start = (
        (clock.now() + dt.timedelta(days=1))
        .astimezone(practice["site"].tz)
        .replace(hour=10, minute=0, second=0, microsecond=0)
    )
    slot = SlotRef(practice["doc"].pk, practice["motif"].pk, practice["site"].pk, start)
    services.appointment_book(actor=actor, slot=slot, patient_id=patient.pk)  # known to the practice now

    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="fr-FR")
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    sign_in(page, base, practice["secretary"].user.email)
    page.get_by_role("link", name="Mon cabinet").click()
    page.get_by_role("link", name="Rechercher un patient").click()
    page.get_by_label("Nom").fill("fevre")  # no accent, part of the name
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("link", name="LEFÈVRE-DUPRÉ Léa")).to_be_visible()
    shot(page, "40-patient-search-1366x900")
    page.get_by_role("link", name="LEFÈVRE-DUPRÉ Léa").click()
    expect(page.get_by_role("heading", name="LEFÈVRE-DUPRÉ Léa")).to_be_visible()

    page.get_by_role("button", name="Ajouter la note").click()
    expect(page.get_by_role("alert")).to_contain_text("Écrivez d’abord la note")
    page.get_by_label("Nouvelle note").fill("Préfère être appelée le matin.")
    page.get_by_role("button", name="Ajouter la note").click()
    expect(page.get_by_text("Note enregistrée.")).to_be_visible()
    expect(page.locator(".notes")).to_contain_text("Préfère être appelée le matin.")

    page.get_by_label("Motif (pour votre équipe, non envoyé au patient)").fill("3 rendez-vous manqués")
    page.get_by_role("button", name="Bloquer la réservation en ligne").click()
    expect(page.get_by_role("alert")).to_contain_text("Cochez la case")
    assert not BookingBlock.objects.exists()
    page.get_by_label("Oui, bloquer la réservation en ligne pour ce patient").check()
    page.get_by_role("button", name="Bloquer la réservation en ligne").click()
    expect(page.get_by_text("Il en a été informé par message.")).to_be_visible()
    expect(page.locator(".booking-block")).to_contain_text("3 rendez-vous manqués")
    shot(page, "41-patient-file-blocked-1366x900")
    told = OutboundMessage.objects.get(kind=Kind.BOOKING_BLOCKED)
    assert told.user_id == user.pk and "Cabinet Lumière" in told.subject

    page.set_viewport_size({"width": 360, "height": 740})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "42-patient-file-360")

    # The patient tries to book online: refused with the practice's message, nothing booked.
    patient_page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="fr-FR").new_page()
    patient_page.set_default_timeout(15_000)
    sign_in(patient_page, base, "lea@example.invalid")
    patient_page.goto(f"{base}/practitioners/{practice['doc'].pk}/")
    slot_url = patient_page.locator(".week .slot").first.get_attribute("href")
    assert slot_url
    patient_page.goto(base + slot_url)
    patient_page.get_by_role("button", name="Continuer").click()
    patient_page.get_by_role("button", name="Confirmer le rendez-vous").click()
    expect(patient_page.get_by_text("n’accepte plus les réservations en ligne pour ce patient")).to_be_visible()
    shot(patient_page, "43-online-booking-refused-blocked")
    assert Appointment.objects.filter(patient=patient, status=Status.BOOKED).count() == 1

    # Staff allow online booking again.
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_role("button", name="Rétablir la réservation en ligne").click()
    expect(page.get_by_text("Le patient peut de nouveau réserver en ligne.")).to_be_visible()
    assert OutboundMessage.objects.filter(kind=Kind.BOOKING_UNBLOCKED, user=user).exists()
