"""`create_api_client` and `grant_api_access`: a script can set up a partner end to end."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import translation

from . import factories as f
from .fhir_support import Api, reset_rate_limits, token, token_response


def create_client(name: str = "Agenda Pro") -> dict[str, str]:
    out = io.StringIO()
    call_command("create_api_client", name, "--json", stdout=out)
    return dict(json.loads(out.getvalue()))


def test_a_script_registers_a_client_grants_it_and_the_client_reads_its_organization(db: None, client: Client) -> None:
    reset_rate_limits()
    org = f.organization("Cabinet Scripté")
    other = f.organization("Cabinet Voisin")
    creds = create_client()
    out = io.StringIO()
    call_command("grant_api_access", creds["client_id"], str(org.pk), "--scopes", "system/Organization.rs", stdout=out)
    assert "system/Organization.rs" in out.getvalue()
    api = Api(client, token(client, creds["client_id"], creds["client_secret"]))
    assert api.get(f"Organization/{org.pk}").status_code == 200
    assert api.get(f"Organization/{other.pk}").status_code == 404
    assert api.get("Appointment").status_code == 403

    call_command("grant_api_access", creds["client_id"], str(org.pk), "--revoke", stdout=io.StringIO())
    assert api.get(f"Organization/{org.pk}").status_code == 404


def test_the_secret_is_not_stored_in_clear(db: None) -> None:
    from oauth2_provider.models import Application

    creds = create_client()
    stored = Application.objects.get(client_id=creds["client_id"]).client_secret
    assert creds["client_secret"] not in stored


def test_a_wrong_secret_gets_no_token(db: None, client: Client) -> None:
    org = f.organization()
    creds = create_client()
    call_command("grant_api_access", creds["client_id"], str(org.pk), stdout=io.StringIO())
    assert token_response(client, creds["client_id"], "wrong").status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["unknown-client", "{org}"], "No API client"),
        (["{client}", "{org}", "--scopes", "system/Everything.all"], "Unknown scope"),
        (["{client}", "not-a-uuid"], "organization"),
        (["{client}", "{org}", "--revoke"], "No active grant"),
    ],
)
def test_bad_arguments_fail_with_a_clear_message(db: None, args: list[str], message: str) -> None:
    org = f.organization()
    creds = create_client()
    filled = [a.format(client=creds["client_id"], org=org.pk) for a in args]
    with translation.override("en"), pytest.raises(CommandError, match=message):
        call_command("grant_api_access", *filled, stdout=io.StringIO())


def test_granting_an_unknown_organization_fails_cleanly(db: None) -> None:
    creds = create_client()
    with translation.override("en"), pytest.raises(CommandError, match="Unknown organization"):
        call_command(
            "grant_api_access", creds["client_id"], "6f1c2a52-0000-4000-8000-000000000000", stdout=io.StringIO()
        )
