"""An organization admin grants a partner software access in a real browser, the software's token
works, and the admin's "Revoke now" cuts it off on its very next request."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.test import Client
from playwright.sync_api import expect, sync_playwright

from creneau.accounts.models import Role

from . import factories as f
from .fhir_support import register_client, reset_rate_limits, tenant

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.django_db(transaction=True)
def test_an_admin_grants_then_revokes_api_access_in_the_browser(live_server: Any, monkeypatch: Any) -> None:
    # Playwright's sync API runs an event loop in this thread; the ORM calls below are plain sync code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    reset_rate_limits()
    a = tenant("Cabinet Lumière")
    client_id, secret = register_client("Logiciel Agenda")
    admin = f.staff(a.org, Role.ORG_ADMIN)
    web = Client()
    assert admin.user is not None
    web.force_login(f.user_of(admin))
    base = f"{live_server.url}/fhir/R4"

    def new_token() -> dict[str, Any]:
        issued = requests.post(
            f"{base}/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10
        )
        assert issued.status_code == 200
        return dict(issued.json())

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.add_cookies([{"name": "sessionid", "value": web.cookies["sessionid"].value, "url": live_server.url}])
        page = context.new_page()
        page.goto(f"{live_server.url}/en/practice/api-access/")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Cabinet Lumière")
        expect(page.locator("#grants")).to_contain_text("No software has access")

        page.get_by_label("Client id").fill(client_id)
        page.get_by_label("system/Patient.crs").uncheck()
        page.get_by_role("button", name="Grant access").click()
        expect(page.locator("#grants")).to_contain_text("Logiciel Agenda")
        expect(page.locator("#grants")).to_contain_text("system/Appointment.cruds")

        token = new_token()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{base}/Appointment/{a.appointment.pk}"
        assert requests.get(url, headers=headers, timeout=10).status_code == 200
        # Patient access was unticked: the token carries no Patient scope.
        assert requests.get(f"{base}/Patient/{a.patient.pk}", headers=headers, timeout=10).status_code == 403

        page.get_by_role("button", name="Revoke now").click()
        expect(page.locator("#grants")).to_contain_text("Revoked on")
        assert requests.get(url, headers=headers, timeout=10).status_code == 404
        assert new_token()["scope"] == ""  # no grant left: a new token carries no scope at all
        browser.close()
