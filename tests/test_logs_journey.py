"""The logs of a whole day's journey hold no identity: the demo patient books for herself and her child,
cancels, the practice's secretary opens the agenda, finds the caller by name and looks at the booking,
the worker sends the messages. Every line is JSON, requests carry id, route, status, duration and the
principal's kind, and none of the demo patients' names, e-mails, phones, birth dates or ids appears."""

from __future__ import annotations

import html
import io
import json
import logging
import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client

from creneau.accounts.models import Membership, User
from creneau.demo import data as demo_data
from creneau.directory.models import Agenda, Practitioner
from creneau.observability.logging import JsonFormatter
from creneau.patients.models import Patient

from . import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """What the production handler would write: every logger, INFO and up, through the JSON formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def sign_in(email: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": email, "password": demo_data.DEMO_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


def free_slot(client: Client, practitioner_id: str, *, latest: bool = False) -> dict[str, str]:
    """The first (or the latest) free time the practitioner's page offers."""
    page = client.get(f"/practitioners/{practitioner_id}/")
    assert page.status_code == 200
    hrefs = re.findall(r'class="slot" href="([^"]+)"', page.content.decode())
    assert hrefs, "the demo practitioner has a free slot"
    return dict(parse_qsl(urlsplit(html.unescape(hrefs[-1 if latest else 0])).query))


def book(client: Client, practitioner_id: str, patient_id: str, *, latest: bool = False) -> str:
    slot = free_slot(client, practitioner_id, latest=latest)
    assert client.get("/book/", slot).status_code == 200
    held = client.post("/book/hold/", slot)
    assert held.status_code == 302
    details = held["Location"]
    assert client.get(details).status_code == 200
    done = client.post(details, {"patient": patient_id})
    assert done.status_code == 302, done.content[:500]
    assert client.get(done["Location"]).status_code == 200
    return done["Location"].rstrip("/").split("/")[-2]


def test_a_full_journey_logs_no_identity(captured_logs: io.StringIO) -> None:
    f.ensure_specialties()  # an earlier transactional test may have flushed the nomenclature
    call_command("seed_demo", practitioners=6, patients=12, weeks=2, stdout=io.StringIO())
    demo = User.objects.by_email("patient@creneau.test").get()
    alice = Patient.objects.get(account=demo, relationship="self")
    leo = Patient.objects.get(account=demo, relationship="child")
    secretary = User.objects.by_email("secretaire@creneau.test").get()
    membership = Membership.objects.filter(user=secretary).first()
    assert membership is not None
    doc = Practitioner.objects.filter(sites__organization=membership.organization).distinct().first()
    assert doc is not None
    doc_id = str(doc.pk)
    agenda_id = str(Agenda.objects.get(practitioner=doc, organization=membership.organization).pk)

    # The patient: search, book for herself and her child, look, cancel one.
    visitor = Client()
    assert visitor.get("/", {"specialty": str(doc.specialty), "where": "Lyon"}).status_code == 200
    assert visitor.get(f"/practitioners/{doc_id}/").status_code == 200
    patient = sign_in("patient@creneau.test")
    first = book(patient, doc_id, str(alice.pk), latest=True)  # far enough ahead to cancel online
    second = book(patient, doc_id, str(leo.pk))
    assert patient.get("/account/").status_code == 200
    assert patient.get(f"/account/appointments/{first}/").status_code == 200
    assert patient.get(f"/appointments/{first}/calendar.ics").status_code == 200
    assert patient.post(f"/account/appointments/{first}/cancel/").status_code == 302
    assert patient.get("/account/profile/").status_code in (200, 302)
    assert patient.get(f"/account/appointments/{leo.pk}/").status_code == 404  # a patient id where it has no place

    # The secretary: agenda, the child's booking, the caller found by name.
    practice = sign_in("secretaire@creneau.test")
    assert practice.get("/practice/").status_code == 200
    assert practice.get(f"/practice/agenda/{agenda_id}/").status_code == 200
    assert practice.get(f"/practice/appointments/{second}/").status_code == 200
    slot = free_slot(practice, doc_id)
    found = practice.post(
        f"/practice/agenda/{agenda_id}/book/",
        {
            **{k: slot[k] for k in ("motif", "site", "start")},
            "action": "search",
            "s-name": leo.family_name,
            "s-birth_date": str(leo.birth_date),
        },
    )
    assert found.status_code == 200

    # The worker delivers the confirmations and the cancellation notice.
    call_command("notifications_worker", once=True, stdout=io.StringIO())

    text = captured_logs.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    requests = [line for line in lines if line["logger"] == "creneau.request"]
    assert len(requests) >= 15
    for line in requests:
        assert {"request_id", "route", "status", "duration_ms", "principal_kind", "method"} <= line.keys()
        assert "/" not in line["route"]  # a pattern name, never a path
    kinds = {line["principal_kind"] for line in requests}
    assert {"anonymous", "patient", "staff"} <= kinds
    assert any(line["route"] == "web:book_details" for line in requests)

    identities = [
        "patient@creneau.test",
        "secretaire@creneau.test",
        "Alice",
        "Léo",
        "Démo",
        "DÉMO",
        "+33639981234",
        "0639981234",
        "06 39 98 12 34",
        "1988-05-17",
        "2017-09-02",
        "17/05/1988",
        "République",
    ]
    for person in (alice, leo, demo, secretary):
        identities += [str(person.pk), person.pk.hex]
    leaked = [identity for identity in identities if identity.lower() in text.lower()]
    assert leaked == []
