"""Responses that may carry personal data are never kept by a cache: `Cache-Control: no-store` and
`Pragma: no-cache` on every route of the site, for a signed-in patient and a signed-in secretary, and on
every FHIR answer to a token; anonymous public pages stay cacheable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch

from creneau.booking import services
from creneau.booking.services import SlotRef

from . import factories as f
from .fhir_support import Api, grant, register_client, tenant, token
from .personas import World

pytestmark = pytest.mark.django_db


def named_routes(patterns: list[Any] | None = None, namespace: str = "") -> Iterator[tuple[str, list[str]]]:
    """Every named route of the project, with the names of its URL parameters."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            yield from named_routes(entry.url_patterns, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            pattern = entry.pattern
            params = list(getattr(pattern, "converters", {}) or {}) or list(pattern.regex.groupindex)
            yield f"{namespace}{entry.name}", params


def url_for(name: str, params: list[str], values: dict[str, str]) -> str | None:
    try:
        return reverse(name, kwargs={p: values.get(p, "00000000-0000-4000-8000-000000000000") for p in params})
    except NoReverseMatch:
        return None


def assert_no_store(response: Any, label: str) -> None:
    assert response.get("Cache-Control") == "no-store", (label, response.status_code, response.get("Cache-Control"))
    assert response.get("Pragma") == "no-cache", label


@pytest.fixture
def people(world: World) -> dict[str, Any]:
    appointment = services.appointment_book(
        actor=world.patient_actor,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 3, 9, 0)),
        patient_id=world.patient.pk,
    )
    hold = services.slot_hold(
        actor=world.patient_actor,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 4, 9, 0)),
    )
    values = {
        "appointment_id": str(appointment.pk),
        "hold_id": str(hold.pk),
        "practitioner_id": str(world.doc.pk),
        "motif_id": str(world.motif.pk),
        "patient_id": str(world.patient.pk),
    }
    return {"user": world.user, "secretary": world.secretary, "values": values}


@pytest.mark.parametrize("who", ["user", "secretary"])
def test_every_route_answers_no_store_to_a_signed_in_user(people: dict[str, Any], who: str) -> None:
    user = people["user"] if who == "user" else people["secretary"].user
    client = Client()
    client.force_login(user)
    checked = 0
    for name, params in named_routes():
        if name.startswith(("fhir:", "admin:")) or name in {"web:logout", "accounts:logout"}:
            continue
        url = url_for(name, params, people["values"])
        if url is None or re.search(r"[\^$(]", url):
            continue
        assert_no_store(client.get(url), f"GET {name}")
        checked += 1
    assert checked >= 30  # the whole site, not a sample


def test_the_calendar_file_and_the_account_page_are_no_store(people: dict[str, Any]) -> None:
    client = Client()
    client.force_login(people["user"])
    for url in (
        reverse("web:account"),
        reverse("web:appointment_ics", kwargs={"appointment_id": people["values"]["appointment_id"]}),
        reverse("web:account_appointment", kwargs={"appointment_id": people["values"]["appointment_id"]}),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert_no_store(response, url)


def test_every_fhir_answer_to_a_token_is_no_store() -> None:
    a = tenant("Cabinet A")
    client_id, secret = register_client()
    grant(client_id, a.org)
    web = Client()
    api = Api(web, token(web, client_id, secret))
    for path in (
        f"Patient/{a.patient.pk}",
        "Patient?family=Martin",
        f"Appointment/{a.appointment.pk}",
        "Appointment?date=ge2026-01-01",
        "Patient/not-an-id",
        "Nothing/here",
    ):
        assert_no_store(api.get(path), path)
    assert_no_store(Api(web, "invalid-token").get(f"Patient/{a.patient.pk}"), "bad token")


def test_sign_in_and_account_links_are_no_store(world: World) -> None:
    client = Client()
    for name in ("accounts:login", "accounts:signup", "accounts:password_reset"):
        assert_no_store(client.get(reverse(name)), name)
    signed = client.post(
        reverse("accounts:login"), {"username": world.user.email, "password": "correct horse battery 42"}
    )
    assert signed.status_code == 302
    assert_no_store(signed, "sign-in answer")


def test_anonymous_public_pages_stay_cacheable(world: World) -> None:
    client = Client()
    for url in (reverse("web:home"), reverse("web:practitioner", kwargs={"practitioner_id": world.doc.pk})):
        response = client.get(url)
        assert response.status_code == 200
        assert "no-store" not in response.get("Cache-Control", "")
