"""The account pages for data rights and the access journal, as a signed-in patient sees them."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from creneau.accounts.reauth import SESSION_AUTH_AT
from creneau.booking import selectors as booking_selectors
from creneau.booking import services
from creneau.booking.services import SlotRef

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client: Client, world: World) -> Client:
    """Signed in with the password just typed (the pages ask for it again otherwise)."""
    client.force_login(world.user)
    session = client.session
    session[SESSION_AUTH_AT] = int(time.time())
    session.save()
    return client


def test_the_journal_lists_the_practice_that_opened_my_appointment(signed_in: Client, world: World) -> None:
    appt = services.appointment_book(
        actor=world.patient_actor,
        patient_id=world.patient.pk,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 3, 9, 0)),
    )
    booking_selectors.access_appointment(world.secretary, appt.pk)
    page = signed_in.get("/account/access-journal/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 200
    assert "Cabinet Lumière" in page.content.decode()


def test_i_download_my_data_as_json(signed_in: Client, world: World) -> None:
    r = signed_in.get(f"/account/my-data/{world.patient.pk}/json/")
    assert r.status_code == 200 and r["Content-Disposition"].startswith("attachment")
    assert json.loads(r.content)["patient"]["given_name"] == world.patient.given_name
    assert world.patient.family_name not in r["Content-Disposition"]


def test_i_cannot_download_someone_elses_data(signed_in: Client, world: World) -> None:
    _u, other, _a = f.patient_account(given_name="Bob")
    assert signed_in.get(f"/account/my-data/{other.pk}/json/").status_code == 404
    assert signed_in.get("/account/my-data/not-a-uuid/fhir/").status_code == 404


def test_erasing_needs_the_box_ticked_then_signs_me_out(signed_in: Client, world: World) -> None:
    assert signed_in.post("/account/erase/", {}).status_code == 400
    r = signed_in.post("/account/erase/", {"confirm": "yes"})
    assert r.status_code == 302
    world.user.refresh_from_db()
    assert not world.user.is_active
    assert signed_in.get("/account/my-data/").status_code == 302  # signed out: back to sign-in


def test_downloading_without_a_fresh_password_asks_for_it(client: Client, world: World) -> None:
    client.force_login(world.user)
    session = client.session
    session.pop(SESSION_AUTH_AT, None)
    session.save()
    r = client.get(f"/account/my-data/{world.patient.pk}/json/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/confirm-it-is-you/")


def test_an_operator_cannot_erase_their_own_account_from_the_patient_page(client: Client) -> None:
    """The Django admin's staff account is closed by another operator, never through self-service
    erasure: the page says so (in French by default) and nothing changes."""
    from creneau.accounts import mfa
    from creneau.accounts.models import User
    from creneau.audit.models import AuditEvent
    from creneau.core import clock

    operator = User.objects.create_user("operateur@example.invalid", "correct horse battery 42")
    operator.is_staff = operator.is_superuser = True
    operator.save()
    mfa.MFADevice.objects.create(user=operator, secret=mfa.new_secret(), confirmed_at=clock.now())
    client.force_login(operator)
    session = client.session
    session[SESSION_AUTH_AT] = int(time.time())
    session[mfa.SESSION_VERIFIED] = str(operator.pk)
    session.save()
    audit_rows = AuditEvent.objects.count()
    r = client.post("/account/erase/", {"confirm": "yes"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert r.status_code == 403
    assert "Les comptes opérateur ne peuvent pas être effacés ici" in r.content.decode()
    operator.refresh_from_db()
    assert operator.is_active and operator.email == "operateur@example.invalid" and operator.has_usable_password()
    assert AuditEvent.objects.filter(via="account_erase").count() == 0
    assert AuditEvent.objects.count() <= audit_rows + 1  # at most the refusal's access-journal row
    assert client.get("/account/my-data/").status_code == 200  # still signed in
