"""End-to-end tests: Debian's Chromium driven by Playwright against Django's live server.

Playwright's sync API runs an event loop in the test thread; the test's own database writes happen
there too, hence DJANGO_ALLOW_ASYNC_UNSAFE (test process only)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, Page, sync_playwright

from creneau.core import clock

from .. import factories as f

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "a long passphrase 4 creneau"


@pytest.fixture
def browser() -> Iterator[Browser]:
    """One browser per test: a Playwright instance left running would hold an event loop in this
    worker and break other tests that start their own."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[object]:
    """Factory of pages, each in its own browser context (its own cookies: another person)."""
    contexts = []

    def make() -> Page:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("dialog", lambda d: d.accept())
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def practice(transactional_db: None) -> dict[str, object]:
    """A Lyon dermatology practice open every day 06:00–22:00 from yesterday, with a 30-minute motif
    bookable without notice and cancellable until the last minute; a secretary; a caller on file."""
    today = clock.now().date()
    org = f.organization("Cabinet Lumière")
    site = f.site(org)
    doc = f.practitioner(site, deadline_hours=0)
    for day in range(7):
        f.weekly_rule(doc, site, weekday=day, start="06:00", end="22:00", valid_from=today - dt.timedelta(days=1))
    motif = f.motif(doc, minutes=30, name="Première consultation")
    secretary = f.staff(org)
    from creneau.patients.services import patient_create_for_organization
    from creneau.scheduling.services import availability_refresh

    caller = patient_create_for_organization(
        actor=secretary,
        organization_id=org.pk,
        family_name="Appelant",
        given_name="Paul",
        birth_date=dt.date(1970, 1, 1),
        phone="+33639980002",
    )
    secretary.user.set_password(PASSWORD)  # type: ignore[union-attr]
    secretary.user.save()  # type: ignore[union-attr]
    availability_refresh(practitioner_ids=[doc.pk])
    return {"org": org, "site": site, "doc": doc, "motif": motif, "secretary": secretary, "caller": caller}
