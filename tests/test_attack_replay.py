"""Replays of the July 2020 attack against creneau.

An API client granted for one organization crawls everything it can with valid tokens, and a patient
account guesses appointment ids through the web. Neither ever receives another organization's or
another patient's data; the crawler is refused (429) once it reaches its quota of distinct patients,
keeps going regardless and is suspended, within one page of the quota; the incident scope computed
afterwards is exactly what it received."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from creneau.audit.models import SuspendedPrincipal
from creneau.booking.services import SlotRef, appointment_book
from creneau.core import clock
from creneau.incidents.models import Incident
from creneau.incidents.services import incident_scope
from creneau.patients.services import patient_create_for_organization

from . import factories as f
from . import fhir_support as fs

pytestmark = pytest.mark.django_db
SUSPEND_AT = 40  # the quota: refused past it, suspended when it insists
GRACE = 5


@pytest.fixture
def low_limits(settings: Settings) -> None:
    limits = dict(settings.CRENEAU_DETECTION["limits"])
    limits["api_client"] = {
        "alert_patients": 20,
        "quota_patients": SUSPEND_AT,
        "suspend_patients": 2 * SUSPEND_AT,
        "alert_not_found": 15,
        "quota_not_found": 30,
        "suspend_not_found": 60,
    }
    settings.CRENEAU_DETECTION = {**settings.CRENEAU_DETECTION, "limits": limits, "quota_grace": GRACE}
    fs.reset_rate_limits()


def _fill(t: fs.Tenant, n: int) -> None:
    """n more patients of the tenant, each with an appointment over the coming days."""
    quick = f.motif(t.doc, minutes=15, name="Court")
    for i in range(n):
        p = patient_create_for_organization(
            actor=t.staff,
            organization_id=t.org.pk,
            family_name="Durand",
            given_name=f"P{i}",
            birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=i),
        )
        day, k = divmod(i, 12)
        start = f.paris(2026, 3, 4, 9, 0) + dt.timedelta(days=day, minutes=15 * k)
        appointment_book(actor=t.staff, slot=SlotRef(t.doc.pk, quick.pk, t.site.pk, start), patient_id=p.pk)


def test_a_granted_client_crawling_is_stopped_and_the_scope_is_exactly_what_it_got(
    client: Client, monday_morning: None, low_limits: None
) -> None:
    a, b = fs.tenant("Cabinet A"), fs.tenant("Cabinet B")
    _fill(a, 70)
    _fill(b, 5)
    client_id, secret = fs.register_client()
    fs.grant(client_id, a.org)
    api = fs.Api(client, fs.token(client, client_id, secret))
    b_ids = {str(b.appointment.pk), str(b.patient.pk), str(b.org.pk)}
    started = clock.now()

    received_appointments: set[str] = set()
    received_patients: set[str] = set()
    statuses = []
    page = 0
    for _request in range(40):
        r = api.get("Appointment", {"_count": "10", "_offset": str(page * 10)})
        statuses.append(r.status_code)
        body = r.content.decode()
        assert not any(x in body for x in b_ids), "another organization's data leaked"
        if r.status_code == 429:
            assert int(r["Retry-After"]) > 0
            continue  # the crawler ignores Retry-After and asks again at once
        if r.status_code != 200:
            break
        page += 1
        for entry in json.loads(body).get("entry", []):
            res = entry["resource"]
            received_appointments.add(res["id"])
            for part in res.get("participant", []):
                ref = part.get("actor", {}).get("reference", "")
                if ref.startswith("Patient/"):
                    received_patients.add(ref.removeprefix("Patient/"))
    # Guessing the other organization's ids, or random ones, answers 404 like a missing id.
    assert api.get(f"Appointment/{b.appointment.pk}").status_code in (403, 404)
    assert api.get(f"Patient/{b.patient.pk}").status_code in (403, 404)

    # Pages until the quota, then GRACE refusals it ignored, then suspended.
    assert statuses == [200] * (SUSPEND_AT // 10) + [429] * GRACE + [403]
    assert SuspendedPrincipal.objects.filter(principal=f"client:{client_id}").exists()
    assert SUSPEND_AT <= len(received_patients) < SUSPEND_AT + 10  # stopped within one page of the limit
    incident = Incident.objects.get(principal=f"client:{client_id}")
    assert set(incident.scope["appointments"]) == received_appointments
    assert set(incident.scope["patients"]) >= received_patients
    scope = incident_scope(principal=f"client:{client_id}", start=started, end=clock.now() + dt.timedelta(seconds=1))
    assert {str(x) for x in scope.appointments} == received_appointments
    assert not ({str(x) for x in scope.organizations} - {str(a.org.pk)})


def test_a_client_guessing_ids_is_suspended_for_enumeration(
    client: Client, monday_morning: None, low_limits: None
) -> None:
    a = fs.tenant("Cabinet A")
    client_id, secret = fs.register_client()
    fs.grant(client_id, a.org)
    api = fs.Api(client, fs.token(client, client_id, secret))
    codes = [api.get(f"Appointment/{uuid.uuid4()}").status_code for _ in range(40)]
    assert codes[:30] == [404] * 30 and codes[30 : 30 + GRACE] == [429] * GRACE and set(codes[30 + GRACE :]) == {403}
    assert api.get(f"Appointment/{a.appointment.pk}").status_code == 403


def test_a_patient_account_guessing_ids_through_the_web_is_signed_out(client: Client, monday_morning: None) -> None:
    user, _patient, _actor = f.patient_account()
    client.force_login(user)
    codes = [client.get(f"/account/appointments/{uuid.uuid4()}/").status_code for _ in range(45)]
    assert codes[:40] == [404] * 40
    assert all(c in (302, 403) for c in codes[40:])
    user.refresh_from_db()
    assert not user.is_active
