"""The search form's suggestions in Chromium: the "what" field suggests specialties from everyday words
and practitioners by name, the "where" field places and districts; both are native combobox inputs
(`<datalist>`), so the browser's own keyboard handling applies, and the whole search runs from the
keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.django_db(transaction=True)


def _options(page: Page, list_id: str, expected: str) -> list[str]:
    page.wait_for_function(
        "([id, text]) => Array.from(document.getElementById(id).options).some(o => o.value.includes(text))",
        arg=[list_id, expected],
    )
    return [str(v) for v in page.eval_on_selector_all(f"#{list_id} option", "os => os.map(o => o.value)")]


def test_suggestions_offer_specialties_practitioners_and_places(
    live_server: object, practice: dict, new_page: object
) -> None:
    page = new_page()  # type: ignore[operator]
    page.goto(live_server.url + "/")  # type: ignore[attr-defined]
    what = page.get_by_role("combobox", name="Spécialité ou praticien")
    where = page.get_by_role("combobox", name="Ville, code postal ou arrondissement")
    what.press_sequentially("dermato")
    assert "Dermatologie et vénéréologie" in _options(page, "specialty-list", "Dermatologie")
    doc = practice["doc"]
    what.fill("")
    what.press_sequentially(doc.family_name[:6])
    assert any(doc.family_name in o for o in _options(page, "specialty-list", doc.family_name))
    where.press_sequentially("Lyon 3")
    assert any(o.startswith("Lyon 3e") for o in _options(page, "place-list", "Lyon 3e"))


def test_the_search_runs_from_the_keyboard_alone(live_server: object, practice: dict, new_page: object) -> None:
    page = new_page()  # type: ignore[operator]
    page.goto(live_server.url + "/")  # type: ignore[attr-defined]
    page.get_by_label("Spécialité ou praticien").focus()
    page.keyboard.type("pédiatre")
    page.keyboard.press("Control+a")
    page.keyboard.type("dermatologue")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.id")
    assert focused == "id_where"
    page.keyboard.type("Lyon")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name=practice["doc"].display_name, exact=True)).to_be_visible()
    first_slot = page.locator(".result .slot").first
    first_slot.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Réserver cet horaire")).to_be_visible()
