"""`/metrics` as an operator's Prometheus meets it: closed to anyone without the token, latency per route
pattern, booking outcomes by reason, the platform's backlogs and detection state, no personal data."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from creneau.audit.services import audit_seal, principal_suspend
from creneau.booking import services
from creneau.booking.services import SlotRef
from creneau.core.errors import Conflict, PolicyViolation

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-tests-0123456789abcdef"


@pytest.fixture
def with_token(settings: object) -> None:
    settings.CRENEAU_METRICS_TOKEN = TOKEN  # type: ignore[attr-defined]


def scrape(client: Client) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text, name).get(tuple(sorted(labels.items())), 0.0)


def test_the_endpoint_does_not_exist_without_a_configured_token(client: Client, settings: object) -> None:
    settings.CRENEAU_METRICS_TOKEN = ""  # type: ignore[attr-defined]
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_without_the_right_token_nothing_is_exposed(client: Client, with_token: None) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert b"creneau_" not in response.content
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_latency_is_recorded_per_route_pattern_never_per_path(client: Client, with_token: None, world: World) -> None:
    doc_id = str(world.doc.pk)
    before = scrape(client)
    count = "creneau_http_request_duration_seconds_count"
    start = value(before, count, route="web:practitioner", method="GET")
    assert client.get(f"/practitioners/{doc_id}/").status_code == 200
    assert client.get("/practitioners/not-an-id/").status_code == 404
    after = scrape(client)
    assert value(after, count, route="web:practitioner", method="GET") == start + 2
    assert value(after, "creneau_http_responses_total", route="web:practitioner", method="GET", status="404") >= 1
    assert doc_id not in after and "not-an-id" not in after
    assert client.get("/no/such/page/").status_code == 404
    assert value(scrape(client), count, route="unmatched", method="GET") >= 1


def test_bookings_conflicts_and_refusals_are_counted_by_reason(client: Client, with_token: None, world: World) -> None:
    def ref(start: dt.datetime) -> SlotRef:
        return SlotRef(world.doc.pk, world.motif.pk, world.site.pk, start)

    actor, patient = world.patient_actor, world.patient
    before = scrape(client)
    services.appointment_book(actor=actor, slot=ref(f.paris(2026, 3, 2, 9, 0)), patient_id=patient.pk)
    _user, other, other_actor = f.patient_account(given_name="Bob")
    with pytest.raises(Conflict):
        services.appointment_book(actor=other_actor, slot=ref(f.paris(2026, 3, 2, 9, 0)), patient_id=other.pk)
    with pytest.raises(PolicyViolation):
        services.appointment_book(actor=actor, slot=ref(f.paris(2026, 3, 1, 9, 0)), patient_id=patient.pk)
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("creneau_bookings_total", operation="book", channel="web") == 1
    assert delta("creneau_booking_conflicts_total", operation="book", channel="web") == 1
    assert delta("creneau_booking_refusals_total", operation="book", channel="web", reason="past") == 1
    # The patient appears nowhere: not by id, name, e-mail or phone.
    for secret in (str(patient.pk), patient.given_name, patient.family_name, patient.email, "+33639980001"):
        assert secret not in after


def test_confirming_an_expired_hold_counts_one_booking(client: Client, with_token: None, world: World) -> None:
    from creneau.core import clock

    actor, patient = world.patient_actor, world.patient
    slot = SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 2, 10, 0))
    hold = services.slot_hold(actor=actor, slot=slot)
    before = scrape(client)
    with clock.frozen_at(f.paris(2026, 3, 2, 7, 30)):  # the hold has expired, the slot is still free
        services.hold_confirm(actor=actor, hold_id=hold.pk, patient_id=patient.pk)
        after = scrape(client)
    assert (
        value(after, "creneau_bookings_total", operation="book", channel="web")
        - value(before, "creneau_bookings_total", operation="book", channel="web")
        == 1
    )


def test_backlogs_seal_lag_and_suspensions_come_from_the_database(
    client: Client, with_token: None, world: World
) -> None:
    slot = SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 2, 11, 0))
    services.appointment_book(actor=world.patient_actor, slot=slot, patient_id=world.patient.pk)
    text = scrape(client)
    assert value(text, "creneau_state_up") == 1
    assert sum(samples(text, "creneau_outbox_backlog").values()) >= 1  # the confirmation, due now
    assert value(text, "creneau_audit_unsealed_events") >= 1
    assert value(text, "creneau_audit_seal_lag_seconds") >= 0
    assert "creneau_task_queue_depth" in text

    audit_seal()
    sealed = scrape(client)
    assert value(sealed, "creneau_audit_unsealed_events") <= 1  # at most the scrape's own neighbours
    assert value(sealed, "creneau_suspended_principals", kind="user") == 0
    principal_suspend(principal=world.patient_actor.key, reason="test")
    suspended = scrape(client)
    assert value(suspended, "creneau_suspended_principals", kind="user") == 1
    assert str(world.user.pk) not in suspended


def test_the_refusal_is_explained_in_french_by_default(client: Client, with_token: None) -> None:
    response = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert "Un jeton de métriques valide est nécessaire." in response.content.decode()
