"""The agenda grid in Chromium: a full week on one 1366×900 screen, a tablet, a phone without sideways
scrolling of the page; moving an appointment by drag and drop and by keyboard, each with a confirmation."""

from __future__ import annotations

import datetime as dt
import re
import struct

import pytest
from playwright.sync_api import Browser, Page, expect

from creneau.booking.models import Appointment, Status
from creneau.booking.services import SlotRef, appointment_book
from creneau.core import clock

from .conftest import ARTIFACTS
from .test_practice_and_race import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def png_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def full_shot(page: Page, name: str) -> tuple[int, int]:
    """A full-page screenshot saved in test-artifacts/, and its size in pixels."""
    ARTIFACTS.mkdir(exist_ok=True)
    data = page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    return png_size(data)


def page_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def book_tomorrow(practice: dict, hour: int) -> Appointment:
    tz = practice["site"].tz
    day = clock.now().astimezone(tz).date() + dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(hour), tzinfo=tz)
    return appointment_book(
        actor=practice["secretary"],
        slot=SlotRef(practice["doc"].pk, practice["motif"].pk, practice["site"].pk, start),
        patient_id=practice["caller"].pk,
    )


def test_week_grid_fits_a_screen_a_tablet_and_a_phone(live_server: object, practice: dict, browser: Browser) -> None:
    book_tomorrow(practice, 10)
    base = live_server.url  # type: ignore[attr-defined]
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="fr-FR")
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    sign_in(page, base, practice["secretary"].user.email)
    agenda_url = f"{base}/practice/agenda/{practice['doc'].agendas.get().pk}/"
    page.goto(agenda_url)
    expect(page.locator(".blk.booked").first).to_contain_text("APPELANT Paul")
    expect(page.locator(".col")).to_have_count(7)
    # The whole week, 06:00 to 22:00 on seven days, is one screen: the full-page capture is the viewport.
    assert full_shot(page, "30-grid-week-1366x900") == (1366, 900)
    assert page.locator(".grid-box").evaluate("b => b.scrollHeight <= b.clientHeight + 1")
    legend = page.locator(".legend").inner_text()
    for word in ("Réservé", "Libre", "En cours de réservation", "Absence", "Fermé"):
        assert word in legend
    page.set_viewport_size({"width": 1024, "height": 768})
    page.reload()
    assert full_shot(page, "31-grid-week-1024x768") == (1024, 768)
    page.set_viewport_size({"width": 360, "height": 740})
    page.reload()
    full_shot(page, "32-grid-week-360")
    assert page_width(page) <= 360
    # On a phone the grid scrolls sideways inside its own box.
    assert page.locator(".grid-box").evaluate("b => b.scrollWidth > b.clientWidth")
    page.goto(agenda_url + "?view=day")
    assert page_width(page) <= 360
    full_shot(page, "33-grid-day-360")
    ctx.close()


def test_drag_an_appointment_then_confirm_and_move_another_by_keyboard(
    live_server: object, practice: dict, browser: Browser
) -> None:
    first = book_tomorrow(practice, 10)
    base = live_server.url  # type: ignore[attr-defined]
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="fr-FR")
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    sign_in(page, base, practice["secretary"].user.email)
    day = first.start_at.astimezone(practice["site"].tz).date()
    page.goto(f"{base}/practice/agenda/{practice['doc'].agendas.get().pk}/?date={day}")
    source = page.locator(".blk.booked[draggable=true]").first
    column = next(c for c in (source.get_attribute("class") or "").split() if c.startswith("gc-"))
    target = page.locator(f".blk.free.{column}", has_text="14:00–14:30")
    source.drag_to(target)
    expect(page.get_by_role("heading", name="Confirmer le déplacement")).to_be_visible()
    full_shot(page, "34-grid-drag-confirm")
    assert Appointment.objects.get(pk=first.pk).status == Status.BOOKED  # nothing moved before confirming
    page.get_by_role("button", name="Confirmer le déplacement").click()
    expect(page.get_by_text("Rendez-vous déplacé.")).to_be_visible()
    moved = Appointment.objects.get(rescheduled_from=first)
    assert moved.start_at.astimezone(practice["site"].tz).time() == dt.time(14, 0)

    # Without a mouse: the "Move" link of the appointment, a date, a free time, the confirmation.
    page.goto(f"{base}/practice/agenda/{practice['doc'].agendas.get().pk}/")
    link = page.get_by_role("link", name=re.compile(r"Déplacer le rendez-vous de APPELANT Paul"))
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Déplacer le rendez-vous")).to_be_visible()
    day_after = (moved.start_at.astimezone(practice["site"].tz) + dt.timedelta(days=1)).date()
    page.get_by_label("Date").fill(day_after.isoformat())
    page.get_by_role("button", name="Voir les horaires libres").press("Enter")
    page.get_by_role("link", name="09:00", exact=True).press("Enter")
    page.get_by_role("button", name="Confirmer le déplacement").press("Enter")
    expect(page.get_by_text("Rendez-vous déplacé.")).to_be_visible()
    again = Appointment.objects.get(rescheduled_from=moved)
    assert again.start_at.astimezone(practice["site"].tz).date() == day_after
    assert Appointment.objects.filter(status=Status.BOOKED).count() == 1
    ctx.close()


def test_absence_over_booked_patients_shows_them_then_cancels_and_tells_each(
    live_server: object, practice: dict, browser: Browser
) -> None:
    from creneau.notifications.models import Kind, OutboundMessage

    booked = [book_tomorrow(practice, h) for h in (9, 10, 11)]
    tz = practice["site"].tz
    day = booked[0].start_at.astimezone(tz).date()
    base = live_server.url  # type: ignore[attr-defined]
    ctx = browser.new_context(viewport={"width": 1024, "height": 768}, locale="fr-FR")
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    sign_in(page, base, practice["secretary"].user.email)
    page.goto(f"{base}/practice/agenda/{practice['doc'].agendas.get().pk}/settings/")
    page.get_by_text("Ajouter une absence").click()
    page.get_by_label("Du", exact=True).fill(f"{day}T08:00")
    page.get_by_label("Au", exact=True).fill(f"{day}T12:00")
    page.get_by_role("button", name="Ajouter", exact=True).click()
    expect(page.get_by_role("heading", name="Patients ayant rendez-vous pendant cette absence")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("APPELANT Paul"))).to_have_count(3)
    full_shot(page, "35-absence-over-patients")
    page.get_by_role("button", name=re.compile("Enregistrer l’absence et annuler ces rendez-vous")).click()
    expect(page.get_by_text("3 rendez-vous annulés ; chaque patient a été prévenu.")).to_be_visible()
    assert not Appointment.objects.filter(status=Status.BOOKED).exists()
    told = OutboundMessage.objects.filter(kind=Kind.CANCELLATION, appointment_id__in=[a.pk for a in booked])
    assert {m.appointment_id for m in told} == {a.pk for a in booked}
    ctx.close()


def test_secretary_forces_a_booking_on_top_of_another_after_confirming(
    live_server: object, practice: dict, browser: Browser
) -> None:
    first = book_tomorrow(practice, 10)
    base = live_server.url  # type: ignore[attr-defined]
    agenda_id = practice["doc"].agendas.get().pk
    ctx = browser.new_context(viewport={"width": 1024, "height": 768}, locale="fr-FR")
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    sign_in(page, base, practice["secretary"].user.email)
    stamp = first.start_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")
    page.goto(
        f"{base}/practice/agenda/{agenda_id}/book/?motif={practice['motif'].pk}&site={practice['site'].pk}&start={stamp}"
    )
    page.get_by_label("Nom").first.fill("Appelant")
    page.get_by_label("Date de naissance").first.fill("1970-01-01")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_role("button", name="Réserver pour ce patient").click()
    expect(page.get_by_role("heading", name="Forcer ce rendez-vous ?")).to_be_visible()
    page.get_by_role("button", name="Forcer le rendez-vous").click()  # box not ticked: refused
    expect(page.get_by_text("Cochez la case pour confirmer que ce rendez-vous est forcé.")).to_be_visible()
    assert not Appointment.objects.filter(is_forced=True).exists()
    page.get_by_label("Motif (obligatoire)").fill("Urgence")
    page.get_by_label("Je confirme ce rendez-vous forcé.").check()
    full_shot(page, "36-forced-confirm")
    page.get_by_role("button", name="Forcer le rendez-vous").click()
    expect(page.get_by_text("Rendez-vous forcé enregistré.")).to_be_visible()
    expect(page.locator(".blk.forced")).to_contain_text("Forcé")
    full_shot(page, "37-forced-in-grid")
    forced = Appointment.objects.get(is_forced=True)
    assert forced.start_at == first.start_at and forced.forced_reason == "Urgence"
    assert Appointment.objects.get(pk=first.pk).status == Status.BOOKED
    ctx.close()
