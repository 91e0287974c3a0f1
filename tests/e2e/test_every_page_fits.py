"""Every page of the site on two phones (360×740 and 390×844): no sideways scrolling (the page is no
wider than the screen: `document.documentElement.scrollWidth`), no tap target under 24 px (axe-core's
`target-size` rule, WCAG 2.2 SC 2.5.8, run in the page from the copy shipped in tests/e2e/vendor).

"Every page" is checked against the URL configuration: each route of the site's pages is either
visited here (public pages anonymously, the account's as a patient, the practice's as a secretary and
as an organization admin) or listed in NOT_PAGES with the reason (files, JSON, POST-only actions). A new
route that is neither fails the test. The widest width measured per screen goes to
test-artifacts/page-widths.json."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from playwright.sync_api import Browser, Page

from creneau.accounts.models import Membership, Role
from creneau.booking import services
from creneau.booking.services import SlotRef
from creneau.core import clock
from creneau.scheduling.models import VisitChannel

from .. import factories as f
from .conftest import ARTIFACTS, PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
SCREENS = [(360, 740), (390, 844)]
NAMESPACES = ("web", "accounts", "notifications", "privacy", "exports", "fhir_web")

# Routes that are not pages a person looks at, and why.
NOT_PAGES = {
    "web:login": "a redirect to accounts:login",
    "web:suggest_places": "JSON for the autocomplete",
    "web:suggest_what": "JSON for the autocomplete",
    "web:book_hold": "POST only (hold a time)",
    "web:book_resume": "a redirect back into the booking",
    "web:book_release": "POST only",
    "web:appointment_ics": "a calendar file",
    "web:practitioner_photo": "an image",
    "web:staff_photo": "POST only (the photo's upload)",
    "web:data_export": "a download (JSON or FHIR bundle)",
    "web:account_cancel": "POST only",
    "web:calendar_feed_ics": "a calendar file",
    "web:agenda_feed_ics": "a calendar file (an agenda's feed)",
    "web:staff_statistics_csv": "a CSV download",
    "web:team_revoke": "POST only",
    "web:team_passkeys": "POST only",
    "notifications:waitlist_join": "POST only",
    "notifications:offer": "reached from an e-mailed offer only; its page is the waiting list's layout",
    "accounts:logout": "POST only",
    "accounts:mfa_verify": "only during a staff sign-in with a second factor (test_mfa.py)",
    "accounts:mfa_recovery_codes": "POST only",
    "accounts:mfa_disable": "POST only",
    "accounts:passkey_register_options": "JSON for WebAuthn",
    "accounts:passkey_register": "JSON for WebAuthn",
    "accounts:passkey_remove": "POST only",
    "accounts:passkey_check_options": "JSON for WebAuthn",
    "accounts:passkey_check": "JSON for WebAuthn",
    "accounts:passkey_login_options": "JSON for WebAuthn",
    "accounts:passkey_login": "JSON for WebAuthn",
    "exports:decide": "POST only",
    "exports:download": "a file",
    "fhir_web:revoke": "POST only",
}

WIDTH = "document.documentElement.scrollWidth"
TARGET_SIZE = """
async () => {
  const result = await axe.run(document, {runOnly: {type: 'rule', values: ['target-size']}});
  return result.violations.flatMap(v => v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary.split('\\n')[1]));
}
"""


def _routes() -> set[str]:
    def walk(resolver: URLResolver, namespace: str | None) -> list[str]:
        out: list[str] = []
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                out += walk(p, p.namespace or namespace)
            elif isinstance(p, URLPattern) and p.name and namespace in NAMESPACES:
                out.append(f"{namespace}:{p.name}")
        return out

    return set(walk(get_resolver(), None))


@pytest.fixture
def site_pages(practice: dict) -> dict[str, object]:
    """A patient with a relative, a video appointment, a booked one and a hold; an organization admin;
    the secretary's caller with an appointment."""
    org, site, doc = practice["org"], practice["site"], practice["doc"]
    user, me, actor = f.patient_account("pages@example.invalid")
    user.set_password(PASSWORD)
    user.save()
    from creneau.patients.models import Relationship
    from creneau.patients.services import patient_create_for_account

    patient_create_for_account(
        actor=actor,
        relationship=Relationship.CHILD,
        family_name="Patiente",
        given_name="Zoé",
        birth_date=dt.date(2018, 6, 1),
    )
    video = f.motif(doc, minutes=15, name="Téléconsultation de suivi")
    video.channel = VisitChannel.VIDEO
    video.save(update_fields=["channel"])
    tz = site.tz
    day = clock.now().astimezone(tz).date() + dt.timedelta(days=2)

    def at(hour: int, days: int = 0) -> dt.datetime:
        return dt.datetime.combine(day + dt.timedelta(days=days), dt.time(hour), tzinfo=tz)

    mine = services.appointment_book(actor=actor, slot=SlotRef(doc.pk, video.pk, site.pk, at(10)), patient_id=me.pk)
    hold = services.slot_hold(actor=actor, slot=SlotRef(doc.pk, practice["motif"].pk, site.pk, at(15, 1)))
    caller = services.appointment_book(
        actor=practice["secretary"],
        slot=SlotRef(doc.pk, practice["motif"].pk, site.pk, at(11)),
        patient_id=practice["caller"].pk,
    )
    admin = f.staff(org, Role.ORG_ADMIN)
    admin.user.set_password(PASSWORD)  # type: ignore[union-attr]
    admin.user.save()  # type: ignore[union-attr]
    return {
        "mine": mine,
        "hold": hold,
        "caller_appointment": caller,
        "admin": admin,
        "membership": Membership.objects.filter(organization=org, role=Role.SECRETARY).first(),
        "start": at(16),
    }


def _sign_in(page: Page, base: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(base + "/accounts/login/")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()


def _pages(practice: dict, s: dict) -> dict[str, list[tuple[str, str]]]:
    """Who visits what: persona -> [(route name, path)]."""
    doc, org, motif, site = practice["doc"], practice["org"], practice["motif"], practice["site"]
    agenda = doc.agendas.get()
    stamp = s["start"].astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")
    slot = f"practitioner={doc.pk}&motif={motif.pk}&site={site.pk}&start={stamp}"
    mine, hold, theirs = s["mine"].pk, s["hold"].pk, s["caller_appointment"].pk
    return {
        "anonymous": [
            ("web:home", "/"),
            ("web:home", "/?specialty=dermato&where=Lyon"),
            ("web:home", "/?specialty=dermatologue&where=Lyon&video=1&lang=en&sector=1&new=1&available=week"),
            ("web:home", "/?specialty=astrologue&where=Lyon"),  # unknown word: suggestions
            ("web:home", "/?specialty=&where="),  # empty query
            ("web:home", "/?specialty=" + "d" * 500 + "&where=Lyon"),  # 500 characters
            ("web:home", "/?specialty=Olivier%20Robert&where="),
            ("web:home", "/en/?specialty=dermatologist&where=Lyon%203e"),
            ("web:practitioner", f"/practitioners/{doc.pk}/"),
            ("web:practitioner", f"/en/practitioners/{doc.pk}/"),
            ("web:book_start", f"/book/?{slot}"),
            ("web:book_start", "/book/?practitioner=x&start=19990101T0300Z"),  # refused time
            ("accounts:login", "/accounts/login/"),
            ("accounts:signup", "/accounts/signup/"),
            ("accounts:password_reset", "/accounts/password/reset/"),
            ("accounts:password_reset_done", "/accounts/password/reset/sent/"),
            ("accounts:password_reset_confirm", "/accounts/password/reset/MTI/wrong-token/"),
            ("accounts:password_reset_complete", "/accounts/password/reset/done/"),
            ("accounts:verify", "/accounts/verify/MTI/wrong-token/"),
            ("web:team_invitation", "/team/invitation/not-a-token/"),
            ("web:calendar_feed_ics", "/no-such-page/"),  # the 404 page (the route itself is a file)
        ],
        "patient": [
            ("web:account", "/account/"),
            ("web:account", "/en/account/"),
            ("web:account_appointment", f"/account/appointments/{mine}/"),
            ("web:account_move", f"/account/appointments/{mine}/move/"),
            ("web:book_details", f"/book/{hold}/"),
            ("web:book_done", f"/appointments/{mine}/confirmed/"),
            ("web:relative_add", "/account/relatives/add/"),
            ("web:profile", "/account/profile/"),
            ("web:phone_verify", "/account/phone/"),
            ("web:calendar_feed", "/account/calendar/"),
            ("web:my_data", "/account/my-data/"),
            ("web:account_erase", "/account/erase/"),
            ("notifications:messages", "/account/messages/"),
            ("notifications:waitlist", "/account/waiting-list/"),
            ("privacy:journal", "/account/access-journal/"),
            ("accounts:password_change", "/accounts/password/change/"),
            ("accounts:password_change_done", "/accounts/password/change/done/"),
            ("accounts:mfa_manage", "/accounts/two-step/manage/"),
            ("accounts:mfa_setup", "/accounts/two-step/setup/"),
            ("accounts:passkeys", "/accounts/passkeys/"),
            ("accounts:reauth", "/accounts/confirm-it-is-you/"),
            ("accounts:signout_everywhere", "/accounts/signout-everywhere/"),
        ],
        "secretary": [
            ("web:staff_home", "/practice/"),
            ("web:staff_agenda", f"/practice/agenda/{agenda.pk}/"),
            ("web:staff_agenda", f"/practice/agenda/{agenda.pk}/?view=day&date={s['start'].date():%Y-%m-%d}"),
            ("web:staff_book", f"/practice/agenda/{agenda.pk}/book/?motif={motif.pk}&site={site.pk}&start={stamp}"),
            ("web:staff_appointment", f"/practice/appointments/{theirs}/"),
            ("web:staff_appointment", f"/practice/appointments/{mine}/"),  # with its video link
            ("web:staff_move", f"/practice/appointments/{theirs}/move/"),
            ("web:staff_patients", "/practice/patients/"),
            ("web:staff_patients", "/practice/patients/?q=Appelant"),
            ("web:staff_patient", f"/practice/patients/{practice['caller'].pk}/"),
            ("web:staff_group_day", f"/practice/organizations/{org.pk}/day/"),
            ("web:staff_settings", f"/practice/agenda/{agenda.pk}/settings/"),
            ("web:staff_profile", f"/practice/agenda/{agenda.pk}/profile/"),
            ("web:staff_motif", f"/practice/motifs/{motif.pk}/"),
            ("web:staff_agenda_feed", f"/practice/agenda/{agenda.pk}/calendar/"),
            ("web:staff_statistics", "/practice/statistics/"),
        ],
        "admin": [
            ("web:team", "/practice/team/"),
            ("web:team_invite", f"/practice/team/{org.pk}/invite/"),
            ("web:team_member", f"/practice/team/members/{s['membership'].pk}/"),
            ("web:team_remove", f"/practice/team/members/{s['membership'].pk}/remove/"),
            ("fhir_web:organizations", "/practice/api-access/"),
            ("fhir_web:grants", f"/practice/api-access/{org.pk}/"),
            ("exports:list", "/practice/exports/"),
        ],
    }


def test_every_page_fits_a_phone_and_its_targets_are_big_enough(
    live_server: object, practice: dict, site_pages: dict, browser: Browser
) -> None:
    base = live_server.url  # type: ignore[attr-defined]
    pages = _pages(practice, site_pages)
    visited = {name for persona in pages.values() for name, _path in persona}
    missing = _routes() - visited - set(NOT_PAGES)
    assert not missing, f"routes neither visited nor listed in NOT_PAGES: {sorted(missing)}"
    emails: dict[str, Callable[[], str]] = {
        "patient": lambda: "pages@example.invalid",
        "secretary": lambda: practice["secretary"].user.email,
        "admin": lambda: site_pages["admin"].user.email,
    }
    axe = AXE.read_text()
    problems: list[str] = []
    widest: dict[str, dict[str, object]] = {}
    for width, height in SCREENS:
        ctx = browser.new_context(
            viewport={"width": width, "height": height}, locale="fr-FR", is_mobile=True, bypass_csp=True
        )
        ctx.set_default_timeout(15_000)
        page = ctx.new_page()
        page.on("dialog", lambda d: d.accept())
        most = {"width": 0, "url": ""}
        for persona, routes in pages.items():
            if persona in emails:
                _sign_in(page, base, emails[persona]())
            for _name, path in routes:
                response = page.goto(base + path)
                assert response is not None and response.status < 500, (
                    f"{persona} {path}: {response and response.status}"
                )
                measured = int(page.evaluate(WIDTH))
                if measured > int(most["width"]):  # type: ignore[call-overload]
                    most = {"width": measured, "url": path[:80]}
                if measured > width:
                    problems.append(f"{width}px {persona} {path[:80]}: {measured}px wide")
                if path == "/account/":  # rows as cards: a status is one line, not a letter per line
                    tall = page.evaluate(
                        "Math.max(...Array.from(document.querySelectorAll('td .badge'), b => b.offsetHeight))"
                    )
                    if tall > 40:
                        problems.append(f"{width}px {path}: a status badge is {tall}px tall")
                if page.evaluate("typeof axe") == "undefined":
                    page.add_script_tag(content=axe)
                problems += [f"{width}px {persona} {path[:80]}: target-size {t}" for t in page.evaluate(TARGET_SIZE)]
        widest[f"{width}x{height}"] = most
        ctx.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "page-widths.json").write_text(
        json.dumps({"widest": widest, "routes": len(visited), "urls": sum(map(len, pages.values()))}, indent=2)
    )
    assert problems == [], "\n".join(problems)
