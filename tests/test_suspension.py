"""A suspended principal is refused everywhere, before anything else is parsed, with a machine-readable
reason and one audit event per refused request: no token for a suspended API client, no read or write
through a token issued before, no page for a suspended account's browser.

The review found a suspended client still getting tokens and creating patients (201), and malformed ids
answering 404 while writing not-found events and running detection (1,997 of them raised a second
incident)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from oauth2_provider.models import AccessToken

from creneau.accounts.models import User
from creneau.accounts.selectors import staff_actor
from creneau.accounts.services import account_operator_update
from creneau.audit.models import AuditEvent, DetectionAlert, Outcome, SuspendedPrincipal
from creneau.audit.services import principal_suspend
from creneau.core.actors import Actor
from creneau.core.outcomes import REFUSAL_SYSTEM
from creneau.core.suspension import Suspended
from creneau.patients.models import Patient
from creneau.patients.services import patient_create_for_organization

from .factories import user_of
from .fhir_support import Api, grant, register_client, tenant, token, token_response
from .personas import World

pytestmark = pytest.mark.django_db

NEW_PATIENT = {
    "resourceType": "Patient",
    "name": [{"family": "Durand", "given": ["Léa"]}],
    "birthDate": "1990-04-02",
}


@pytest.fixture
def suspended_client(monday_morning: None) -> dict[str, Any]:
    a = tenant("Cabinet A")
    client_id, secret = register_client()
    grant(client_id, a.org)
    web = Client()
    issued_before = token(web, client_id, secret)
    principal_suspend(principal=f"client:{client_id}", reason="detection:enumeration")
    return {"a": a, "client_id": client_id, "secret": secret, "web": web, "token": issued_before}


def assert_refused(response: Any) -> None:
    assert response.status_code == 403, response.content
    assert response["Creneau-Refusal"] == "suspended"


def test_a_suspended_client_gets_no_token_and_is_told_why(suspended_client: dict[str, Any]) -> None:
    before = AccessToken.objects.count()
    answer = token_response(suspended_client["web"], suspended_client["client_id"], suspended_client["secret"])
    assert_refused(answer)
    assert answer.json()["reason"] == "suspended" and answer.json()["error"] == "unauthorized_client"
    assert AccessToken.objects.count() == before
    wrong = token_response(suspended_client["web"], suspended_client["client_id"], "not-the-secret")
    assert wrong.status_code == 401  # a wrong secret learns nothing about the suspension


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "Patient/{patient}"),
        ("get", "Patient/not-a-valid-id"),
        ("get", "Appointment/%00%27"),
        ("get", "Patient?family=Martin"),
        ("post", "Patient"),
        ("put", "Appointment/not-a-valid-id"),
        ("put", "Appointment/{appointment}"),
    ],
)
def test_every_read_and_write_with_an_earlier_token_is_refused_with_one_event(
    suspended_client: dict[str, Any], method: str, path: str
) -> None:
    a = suspended_client["a"]
    api = Api(suspended_client["web"], suspended_client["token"])
    url = path.format(patient=a.patient.pk, appointment=a.appointment.pk)
    events, patients, alerts = AuditEvent.objects.count(), Patient.objects.count(), DetectionAlert.objects.count()
    answer = api.get(url) if method == "get" else getattr(api, method)(url, NEW_PATIENT)
    assert_refused(answer)
    issue = answer.json()["issue"][0]
    # A valid R4 issue type, and the machine-readable reason in our code system.
    assert issue["code"] == "forbidden"
    assert issue["details"]["coding"] == [{"system": REFUSAL_SYSTEM, "code": "suspended"}]
    new = list(AuditEvent.objects.order_by("id")[events:])
    assert len(new) == 1 and new[0].outcome == Outcome.DENIED
    assert Patient.objects.count() == patients
    assert DetectionAlert.objects.count() == alerts


def test_hundreds_of_refused_guesses_raise_no_second_incident(suspended_client: dict[str, Any]) -> None:
    api = Api(suspended_client["web"], suspended_client["token"])
    alerts = DetectionAlert.objects.count()
    for i in range(300):
        assert api.get(f"Patient/guess-{i}").status_code == 403
    assert DetectionAlert.objects.count() == alerts
    assert not AuditEvent.objects.filter(
        principal=f"client:{suspended_client['client_id']}", outcome=Outcome.NOT_FOUND
    ).exists()


def test_a_suspended_accounts_browser_gets_a_suspended_page_everywhere(world: World) -> None:
    browser = Client()
    browser.force_login(world.user)
    principal_suspend(principal=f"user:{world.user.pk}", reason="detection:mass-read")
    events = AuditEvent.objects.count()
    for url in ("/account/", "/account/appointments/not-an-id/", "/en/practice/"):
        page = browser.get(url)
        assert_refused(page)
        assert "suspendu" in page.content.decode() or "suspended" in page.content.decode()
    refused_post = browser.post("/account/appointments/not-an-id/cancel/")
    assert_refused(refused_post)
    assert AuditEvent.objects.count() == events + 4


def test_services_refuse_a_suspended_staff_member_too(world: World) -> None:
    secretary = world.secretary
    principal_suspend(principal=secretary.key, reason="operator")
    with pytest.raises(Suspended):
        patient_create_for_organization(
            actor=staff_actor(user_of(secretary)), organization_id=world.org.pk, family_name="X", given_name="Y"
        )


def test_a_browser_suspended_by_detection_during_its_session_is_refused_at_the_next_request(world: World) -> None:
    """A signed-in patient guessing appointment ids in the address bar: the guess that crosses the
    enumeration limit suspends the account, and every later request of that same browser is refused
    (403 "suspended", never cached), not served as an anonymous visitor."""
    browser = Client()
    browser.force_login(world.user)
    assert browser.get("/account/").status_code == 200
    answers = [browser.get(f"/account/appointments/{uuid.uuid4()}/").status_code for _ in range(45)]
    assert answers[0] == 404 and answers[-1] == 403
    assert SuspendedPrincipal.objects.filter(principal=f"user:{world.user.pk}").exists()
    page = browser.get("/account/")
    assert_refused(page)
    assert page["Cache-Control"] == "no-store" and page["Pragma"] == "no-cache"
    assert "suspendu" in page.content.decode()


def test_a_staff_session_ends_at_its_next_request_once_an_operator_deactivates_the_account(world: World) -> None:
    """The secretary is signed in; an operator deactivates the account in the admin. The next request of
    that browser is signed out (the session is gone from the store), and reactivating the account later
    does not bring the old session back."""
    secretary = user_of(world.secretary)
    browser = Client()
    browser.force_login(secretary)
    assert browser.get("/practice/").status_code == 200
    session_key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    operator = User.objects.create_user("ops@example.invalid", "correct horse battery 42", is_staff=True)
    account_operator_update(actor=Actor.for_operator(operator), user=secretary, values={"is_active": False})

    page = browser.get("/practice/")
    assert page.status_code == 302 and "login/" in page["Location"]
    assert page["Cache-Control"] == "no-store"
    assert not Session.objects.filter(session_key=session_key).exists()

    account_operator_update(actor=Actor.for_operator(operator), user=secretary, values={"is_active": True})
    browser.cookies[settings.SESSION_COOKIE_NAME] = session_key
    again = browser.get("/practice/")
    assert again.status_code == 302 and "login/" in again["Location"]
