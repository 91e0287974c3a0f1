"""Phone numbers: validated and normalised (French numbers, phonenumbers), and confirmed by a 6-digit
SMS code before any SMS reminder goes to them (expiring, 5 tries, sending rate-limited, outbox)."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator

import pytest
from django.test import Client
from django.utils import translation

from creneau.accounts.models import User
from creneau.core import clock
from creneau.core.errors import InvalidInput
from creneau.notifications.models import Kind, MessageChannel, OutboundMessage
from creneau.notifications.services import recipient_for_patient
from creneau.patients.models import Patient
from creneau.patients.phones import normalize_phone

from . import factories as f
from .personas import World
from .web_support import signed_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("0612345678", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("07.81.23.45.67", "+33781234567"),
        ("0692 12 34 56", "+262692123456"),  # La Réunion
        ("", ""),
    ],
)
def test_french_mobile_numbers_are_normalised(typed: str, e164: str) -> None:
    assert normalize_phone(typed) == e164


@pytest.fixture
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0612", "This phone number is not valid."),
        ("not a phone", "This phone number is not valid."),
        ("+1 415 555 2671", "Please give a French phone number"),
        ("04 12 34 56 78", "Please give a mobile number"),
    ],
)
def test_other_numbers_are_refused_with_a_clear_message(typed: str, message: str, english: None) -> None:
    with pytest.raises(InvalidInput) as exc:
        normalize_phone(typed)
    assert message in str(exc.value.message) and typed not in str(exc.value.message)


def _client(user: User) -> Client:
    """Signed in with the password just typed (the profile page asks for it again otherwise)."""
    client = signed_in(user)
    session = client.session
    session["auth_at"] = int(time.time())
    session.save()
    return client


def _profile(phone: str) -> dict[str, str]:
    return {"given_name": "Alice", "family_name": "Patiente", "birth_date": "1985-03-14", "sex": "F", "phone": phone}


def test_an_invalid_number_on_the_profile_is_a_400_and_saves_nothing(world: World) -> None:
    client = _client(world.user)
    response = client.post("/account/profile/", _profile("06 12"))
    assert response.status_code == 400
    assert "Ce numéro de téléphone n’est pas valide" in response.content.decode()
    world.patient.refresh_from_db()
    assert world.patient.phone == "+33639980001"


def _sent_code(phone: str) -> str:
    sms = OutboundMessage.objects.filter(kind=Kind.PHONE_VERIFICATION, channel=MessageChannel.SMS).latest("created_at")
    assert sms.to_address == phone and sms.user_id is None  # not listed in the account's messages
    found = re.search(r"\b(\d{6})\b", sms.body_text)
    assert found is not None
    return found.group(1)


def test_a_new_number_is_confirmed_by_the_code_sent_to_it(world: World) -> None:
    client = _client(world.user)
    response = client.post("/account/profile/", _profile("06 12 34 56 78"))
    assert response.status_code == 302 and response["Location"] == "/account/phone/"
    patient = Patient.objects.get(pk=world.patient.pk)
    assert patient.phone == "+33612345678" and patient.phone_verified_at is None
    # Until confirmed, reminders are sent by e-mail only.
    assert recipient_for_patient(patient).phone == ""
    page = client.get("/account/").content.decode()
    assert "n’est pas confirmé" in page
    sent = client.post("/account/phone/", {"action": "send"})
    assert sent.status_code == 200 and "Un code a été envoyé" in sent.content.decode()
    code = _sent_code("+33612345678")
    assert code not in client.get("/account/messages/").content.decode()
    done = client.post("/account/phone/", {"action": "confirm", "code": code})
    assert done.status_code == 302
    patient.refresh_from_db()
    assert patient.phone_verified_at is not None
    assert recipient_for_patient(patient).phone == "+33612345678"


def test_five_wrong_codes_lock_the_code_until_a_new_one_is_sent(world: World) -> None:
    client = _client(world.user)
    client.post("/account/profile/", _profile("06 12 34 56 78"))
    client.post("/en/account/phone/", {"action": "send"})
    code = _sent_code("+33612345678")
    wrong = "000000" if code != "000000" else "111111"
    first = client.post("/en/account/phone/", {"action": "confirm", "code": wrong})
    assert first.status_code == 400 and "This code is not right. 4 tries left." in first.content.decode()
    for _ in range(3):
        client.post("/en/account/phone/", {"action": "confirm", "code": wrong})
    fifth = client.post("/en/account/phone/", {"action": "confirm", "code": wrong})
    assert fifth.status_code == 422 and "Too many wrong codes. Ask for a new code." in fifth.content.decode()
    locked = client.post("/en/account/phone/", {"action": "confirm", "code": code})
    assert locked.status_code == 422
    assert Patient.objects.get(pk=world.patient.pk).phone_verified_at is None
    client.post("/en/account/phone/", {"action": "send"})
    fresh = _sent_code("+33612345678")
    assert client.post("/en/account/phone/", {"action": "confirm", "code": fresh}).status_code == 302


def test_an_expired_code_is_refused(world: World) -> None:
    client = _client(world.user)
    client.post("/account/profile/", _profile("06 12 34 56 78"))
    client.post("/en/account/phone/", {"action": "send"})
    code = _sent_code("+33612345678")
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=11)):
        response = client.post("/en/account/phone/", {"action": "confirm", "code": code})
    assert response.status_code == 400 and "This code has expired. Ask for a new one." in response.content.decode()


def test_sending_codes_is_rate_limited(world: World) -> None:
    client = _client(world.user)
    client.post("/account/profile/", _profile("06 12 34 56 78"))
    for _ in range(3):
        assert client.post("/en/account/phone/", {"action": "send"}).status_code == 200
    fourth = client.post("/en/account/phone/", {"action": "send"})
    assert fourth.status_code == 429 and "Too many attempts" in fourth.content.decode()
    assert OutboundMessage.objects.filter(kind=Kind.PHONE_VERIFICATION).count() == 3


def test_a_code_sent_to_the_old_number_does_not_confirm_a_new_one(world: World) -> None:
    client = _client(world.user)
    client.post("/account/profile/", _profile("06 12 34 56 78"))
    client.post("/account/phone/", {"action": "send"})
    code = _sent_code("+33612345678")
    client.post("/account/profile/", _profile("07 81 23 45 67"))
    response = client.post("/en/account/phone/", {"action": "confirm", "code": code})
    assert response.status_code == 400 and "Ask for a code first." in response.content.decode()


def test_a_confirmed_number_keeps_receiving_sms_until_it_changes(world: World) -> None:
    patient = world.patient  # confirmed in the factory
    assert recipient_for_patient(patient).phone == "+33639980001"
    client = _client(world.user)
    client.post("/account/profile/", _profile("+33639980001"))  # same number, written differently
    assert Patient.objects.get(pk=patient.pk).phone_verified_at is not None


def test_phone_page_without_a_number_sends_to_the_profile(db: None) -> None:
    user, patient, _actor = f.patient_account()
    Patient.objects.filter(pk=patient.pk).update(phone_verified_at=None)
    patient.refresh_from_db()
    patient.phone = ""
    patient.save()
    response = signed_in(user).get("/account/phone/")
    assert response.status_code == 302 and response["Location"] == "/account/profile/"


def test_unauthenticated_phone_page_sends_to_sign_in(client: Client) -> None:
    response = client.get("/account/phone/")
    assert response.status_code == 302 and "login" in response["Location"]
