"""Phones first: every patient page at 360×740 and 390×844 without sideways scrolling (the page is
no wider than the screen: document.documentElement.scrollWidth), the first search result on the first
screen, tap targets of 24 px at least; the search map's markers are the list's; the journey in French
on a phone and in English on a desktop, with screenshots. Nothing here reaches the internet: the map
tiles come from a server the test starts."""

from __future__ import annotations

import datetime as dt
import http.server
import re
import struct
import threading
import zlib
from collections.abc import Iterator

import pytest
from django.test import override_settings
from playwright.sync_api import Browser, Page, expect

from creneau.booking import services
from creneau.booking.services import SlotRef
from creneau.core import clock
from creneau.scheduling.services import availability_refresh

from .. import factories as f
from .conftest import PASSWORD, shot

pytestmark = pytest.mark.django_db(transaction=True)

PHONES = [(360, 740), (390, 844)]
LONG_NAME = "Maximilienne-Alexandrine-Bérénice-Clothilde " * 2 + "de La Rochefoucauld-Montmorency"  # ~100 chars


def _png() -> bytes:
    """A 1×1 white PNG: what the local tile server answers for every tile."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff\xff"))
        + chunk(b"IEND", b"")
    )


PNG = _png()


@pytest.fixture
def tiles() -> Iterator[dict[str, object]]:
    """A local tile server: counts the tiles the map asks for."""
    seen: dict[str, object] = {"count": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen["count"] = int(seen["count"]) + 1  # type: ignore[call-overload]
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    seen["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield seen
    server.shutdown()


@pytest.fixture
def patient(practice: dict) -> dict[str, object]:
    """A patient with a long name, an upcoming booking and a relative; and more practitioners."""
    user, me, actor = f.patient_account("phone@example.invalid")
    user.set_password(PASSWORD)
    user.save()
    me.given_name = LONG_NAME
    me.save()
    others = []
    for i in range(3):
        site = f.site(practice["org"])
        site.latitude, site.longitude = 45.76 + 0.01 * (i + 1), 4.84 + 0.01 * (i + 1)
        site.save()
        doc = f.practitioner(site, deadline_hours=0)
        f.every_day(doc, site, start="08:00", end="20:00")
        f.motif(doc, minutes=20)
        others.append(doc)
    availability_refresh(practitioner_ids=[d.pk for d in others])
    start = (
        (clock.now() + dt.timedelta(days=2))
        .astimezone(practice["site"].tz)
        .replace(hour=10, minute=0, second=0, microsecond=0)
    )
    booked = services.appointment_book(
        actor=actor,
        slot=SlotRef(practice["doc"].pk, practice["motif"].pk, practice["site"].pk, start),
        patient_id=me.pk,
    )
    return {"user": user, "appointment": booked, "others": others}


def _sign_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()


def _width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


SMALL_TARGETS = """
() => Array.from(document.querySelectorAll(
    '.btn, .slot, button, input:not([type=hidden]), select, .site-nav a, summary'))
  .filter(el => el.offsetParent !== null && el.closest('.leaflet-control') === null)
  .map(el => [el, el.getBoundingClientRect()])
  .filter(([el, r]) => r.width > 0 && (r.height < 24 || r.width < 24))
  .map(([el, r]) => el.outerHTML.slice(0, 80) + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))
"""


def test_no_page_is_wider_than_a_phone(live_server: object, practice: dict, patient: dict, browser: Browser) -> None:
    base = live_server.url  # type: ignore[attr-defined]
    doc = practice["doc"]
    appointment = patient["appointment"]
    slot = f"practitioner={doc.pk}&motif={practice['motif'].pk}&site={practice['site'].pk}"
    start = clock.now().astimezone(practice["site"].tz).replace(hour=21, minute=0, second=0, microsecond=0)
    slot += "&start=" + start.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")
    public = [
        "/",
        "/?specialty=dermatologue&where=Lyon",
        "/?specialty=dermatologue&where=Lyon&video=1&lang=en&sector=1&new=1&available=week",
        "/?specialty=astrologie&where=Lyon",
        f"/practitioners/{doc.pk}/",
        f"/book/?{slot}",
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/en/?specialty=dermatologist&where=Lyon%203e",
    ]
    private = [
        "/account/",
        f"/account/appointments/{appointment.pk}/",
        f"/account/appointments/{appointment.pk}/move/",
        "/account/relatives/add/",
        "/account/phone/",
        "/account/messages/",
        "/account/waiting-list/",
        "/account/access-journal/",
        "/account/my-data/",
        "/accounts/password/change/",
        "/accounts/two-step/manage/",
    ]
    problems: list[str] = []
    for width, height in PHONES:
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR", is_mobile=True)
        ctx.set_default_timeout(15_000)
        page = ctx.new_page()
        for url in public:
            page.goto(base + url)
            if _width(page) > width:
                problems.append(f"{width}px {url}: {_width(page)}px wide")
            problems += [f"{width}px {url}: small target {t}" for t in page.evaluate(SMALL_TARGETS)]
        _sign_in(page, base, "phone@example.invalid")
        for url in private:
            response = page.goto(base + url)
            assert response is not None and response.status < 500, url
            if _width(page) > width:
                problems.append(f"{width}px {url}: {_width(page)}px wide")
            problems += [f"{width}px {url}: small target {t}" for t in page.evaluate(SMALL_TARGETS)]
        shot(page, f"phone-{width}-account-messages")
        page.goto(base + "/account/")
        shot(page, f"phone-{width}-account")
        ctx.close()
    assert problems == [], "\n".join(problems)


def test_on_a_phone_the_first_result_is_on_the_first_screen_and_the_map_is_behind_a_toggle(
    live_server: object, practice: dict, patient: dict, browser: Browser, tiles: dict
) -> None:
    base = live_server.url  # type: ignore[attr-defined]
    with override_settings(CRENEAU_MAP_TILE_URL=str(tiles["url"]) + "/{z}/{x}/{y}.png"):
        from django.conf import settings

        csp = {**settings.SECURE_CSP, "img-src": ["'self'", "data:", str(tiles["url"])]}
        with override_settings(SECURE_CSP=csp):
            ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR", is_mobile=True)
            page = ctx.new_page()
            page.goto(base + "/")
            page.get_by_label("Spécialité ou praticien").fill("dermato")
            page.get_by_label("Ville, code postal ou arrondissement").fill("Lyon 1er")
            page.get_by_role("button", name="Rechercher").click()
            first = page.locator(".result").first
            expect(first).to_be_visible()
            box = first.bounding_box()
            assert box is not None and box["y"] < 844  # starts on the first screen
            assert page.locator(".results-map").is_hidden()
            shot(page, "phone-390-results")
            page.get_by_role("button", name="Afficher la carte").click()
            expect(page.locator(".results-map")).to_be_visible()
            markers = page.locator(".map-marker")
            expect(markers.first).to_be_visible()
            numbers = [m.get_attribute("data-n") for m in markers.all()]
            listed = [r.get_attribute("data-marker") for r in page.locator(".result").all()]
            assert sorted(numbers, key=int) == listed and len(listed) == 4  # type: ignore[arg-type]
            page.wait_for_timeout(500)
            assert int(tiles["count"]) > 0
            shot(page, "phone-390-map")
            ctx.close()


def test_map_without_a_tile_server_still_shows_the_markers(
    live_server: object, practice: dict, patient: dict, new_page: object
) -> None:
    page = new_page()  # type: ignore[operator]
    page.goto(live_server.url + "/?specialty=dermatologue&where=Lyon")  # type: ignore[attr-defined]
    expect(page.locator(".map-marker").first).to_be_visible()
    assert page.locator(".map-marker").count() == page.locator(".result").count() == 4
    assert page.locator(".leaflet-tile").count() == 0
    shot(page, "desktop-map-no-tiles")


def test_refused_geolocation_gets_a_clear_message(live_server: object, practice: dict, browser: Browser) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR", permissions=[])
    page = ctx.new_page()
    page.goto(live_server.url + "/")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Autour de moi").click()
    expect(page.locator(".near-me-status")).to_contain_text("Nous n’avons pas pu obtenir votre position")
    ctx.close()


def test_granted_geolocation_searches_around_me(live_server: object, practice: dict, browser: Browser) -> None:
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="fr-FR",
        permissions=["geolocation"],
        geolocation={"latitude": 45.7601, "longitude": 4.8402},
    )
    page = ctx.new_page()
    page.goto(live_server.url + "/")  # type: ignore[attr-defined]
    page.get_by_label("Spécialité ou praticien").fill("dermatologue")
    page.get_by_role("button", name="Autour de moi").click()
    expect(page.get_by_role("link", name=practice["doc"].display_name, exact=True)).to_be_visible()
    assert "lat=45.76" in page.url and "lon=4.84" in page.url  # rounded to about a kilometre
    ctx.close()


def test_english_journey_on_a_desktop(live_server: object, practice: dict, patient: dict, new_page: object) -> None:
    page = new_page()  # type: ignore[operator]
    base = live_server.url  # type: ignore[attr-defined]
    page.goto(base + "/en/")
    page.get_by_label("Specialty or practitioner").fill("dermatologist")
    page.get_by_label("Town, postcode or district").fill("Lyon 3e")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name=re.compile("Dermatology practitioners? near Lyon 3e"))).to_be_visible()
    page.get_by_text("Filters and distance").click()
    page.get_by_label("Sort by").select_option("distance")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".results-head")).to_contain_text("nearest first")
    shot(page, "desktop-en-results")
    page.locator(".result .slot").first.click()
    expect(page.get_by_role("heading", name="Book this time")).to_be_visible()
    assert "/en/" in page.url  # links keep the chosen language
    shot(page, "desktop-en-chosen-time")
