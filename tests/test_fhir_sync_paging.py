"""Incremental sync on `_lastUpdated` with stable paging: the next link carries a cursor, so rows
changed while a partner pages are neither skipped nor repeated at their old version (an offset would
skip one for every row that moves to the end), and each changed row comes back at its new version."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from creneau.booking.services import SlotRef, appointment_book, appointment_cancel
from creneau.core import clock

from . import factories as f
from .fhir_support import Api, Tenant, grant, register_client, reset_rate_limits, tenant, token


@pytest.fixture
def setup(db: None, monday_morning: None, client: Client) -> dict[str, Any]:
    reset_rate_limits()
    a = tenant("Cabinet A")
    for hour, minute in ((9, 30), (10, 0), (10, 30), (11, 0), (11, 30)):
        appointment_book(
            actor=a.staff,
            slot=SlotRef(a.doc.pk, a.motif.pk, a.site.pk, f.paris(2026, 3, 3, hour, minute)),
            patient_id=a.patient.pk,
        )
    client_id, secret = register_client()
    grant(client_id, a.org)
    return {"a": a, "api": Api(client, token(client, client_id, secret))}


def follow(api: Api, url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    query = {k: v for k, v in parse_qs(parts.query).items()}
    response = api.get(parts.path.removeprefix("/fhir/R4/"), query)
    assert response.status_code == 200, response.content
    return dict(response.json())


def next_url(bundle: dict[str, Any]) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


def test_rows_changed_while_paging_are_not_skipped_and_come_back_at_their_new_version(setup: dict[str, Any]) -> None:
    a: Tenant = setup["a"]
    api: Api = setup["api"]
    first = api.get("Appointment", {"_sort": "_lastUpdated", "_count": "2"}).json()
    assert first["total"] == 6
    seen = [(e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in first["entry"]]
    assert "_cursor=" in (next_url(first) or "") and "_offset" not in (next_url(first) or "")
    # Meanwhile the practice cancels one row already seen and one not yet seen: both move to the end.
    ids = [i for i, _v in seen]
    unseen = api.get("Appointment", {"_sort": "_lastUpdated", "_count": "6"}).json()["entry"][3]["resource"]["id"]
    with clock.frozen_at(timezone.now() + dt.timedelta(minutes=1)):
        appointment_cancel(actor=a.staff, appointment_id=ids[0])
        appointment_cancel(actor=a.staff, appointment_id=unseen)
    bundle = first
    while (url := next_url(bundle)) is not None:
        bundle = follow(api, url)
        seen += [(e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in bundle.get("entry", [])]
    latest = {
        e["resource"]["id"]: e["resource"]["meta"]["versionId"]
        for e in api.get("Appointment", {"_count": "50"}).json()["entry"]
    }
    assert set(latest) == {i for i, _v in seen}  # nothing skipped
    assert set(latest.items()) <= set(seen)  # every row at its latest version
    assert len(seen) == len(set(seen)) == 7  # no version twice: the cancelled row seen before, once more


def test_an_offset_with_the_cursor_sort_or_a_forged_cursor_is_a_400(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    for query in (
        {"_sort": "_lastUpdated", "_offset": "2"},
        {"_sort": "_lastUpdated", "_cursor": "not-a-cursor"},
        {"_sort": "date", "_cursor": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
    ):
        response = api.get("Appointment", query)
        assert response.status_code == 400, (query, response.content)
        assert response.json()["resourceType"] == "OperationOutcome"


def test_descending_sync_pages_with_a_cursor_too(setup: dict[str, Any]) -> None:
    api: Api = setup["api"]
    bundle = api.get("Appointment", {"_sort": "-_lastUpdated", "_count": "4"}).json()
    ids = [e["resource"]["id"] for e in bundle["entry"]]
    while (url := next_url(bundle)) is not None:
        bundle = follow(api, url)
        ids += [e["resource"]["id"] for e in bundle.get("entry", [])]
    assert len(ids) == len(set(ids)) == 6
