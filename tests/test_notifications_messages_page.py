"""The account's "messages we sent you": real messages are listed with their code; a code we did not
send (a phishing message) is reported as not ours."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from creneau.notifications import outbox
from creneau.notifications.models import Kind, MessageChannel, OutboundMessage

from . import factories as f
from .notif_support import book
from .personas import World

pytestmark = pytest.mark.django_db
URL = "/en/account/messages/"


@pytest.fixture(autouse=True)
def file_sms(settings: Settings, tmp_path: Path) -> None:
    settings.CRENEAU_SMS_FILE_DIR = str(tmp_path)


def test_sent_messages_are_listed_with_their_code(world: World, client: Client) -> None:
    book(world, f.paris(2026, 3, 2, 10, 0))
    outbox.deliver_due()
    code = OutboundMessage.objects.get(kind=Kind.BOOKING_CONFIRMATION, channel=MessageChannel.EMAIL).code
    client.force_login(world.user)
    page = client.get(URL).content.decode()
    assert page.count(f"<code>{code}</code>") == 2  # the e-mail and the SMS of the same event
    assert "Booking confirmation" in page
    # Reminders not yet sent are not listed: nothing has reached the patient.
    assert "Reminder" not in page


def test_checking_a_genuine_code_confirms_it(world: World, client: Client) -> None:
    book(world, f.paris(2026, 3, 2, 10, 0))
    outbox.deliver_due()
    code = OutboundMessage.objects.filter(kind=Kind.BOOKING_CONFIRMATION).first().code  # type: ignore[union-attr]
    client.force_login(world.user)
    page = client.get(URL, {"code": code.lower().replace("-", "")}).content.decode()
    assert "Genuine: we sent this message" in page


def test_a_code_we_did_not_send_is_reported_as_phishing(world: World, client: Client) -> None:
    book(world, f.paris(2026, 3, 2, 10, 0))
    outbox.deliver_due()
    client.force_login(world.user)
    page = client.get(URL, {"code": "ZZZZ-9999"}).content.decode()
    assert "We did not send you any message with this code" in page


def test_another_account_cannot_see_or_confirm_my_codes(world: World, client: Client) -> None:
    book(world, f.paris(2026, 3, 2, 10, 0))
    outbox.deliver_due()
    code = OutboundMessage.objects.filter(kind=Kind.BOOKING_CONFIRMATION).first().code  # type: ignore[union-attr]
    other, _patient, _actor = f.patient_account(given_name="Eve")
    client.force_login(other)
    page = client.get(URL, {"code": code}).content.decode()
    assert "We did not send you any message with this code" in page
    assert f"<code>{code}</code>" not in page


def test_the_page_needs_a_signed_in_account(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
