"""Personal data read from a terminal is audited: `dumpdata` on accounts, patients, messages or
appointments needs a named operator and writes an audit event with the scope (every patient covered)
before printing anything; `rotate_keys` records each batch it decrypts."""

from __future__ import annotations

import base64
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from creneau.accounts.models import User
from creneau.audit.models import AuditAccess, AuditEvent
from creneau.core.crypto import envkeys
from creneau.notifications import outbox

from . import factories as f
from .notif_support import book
from .personas import World

pytestmark = pytest.mark.django_db

NEW_KEY = ("k2027", base64.b64encode(b"n" * 32).decode())


@pytest.fixture
def operator() -> User:
    return User.objects.create_user("operateur@example.invalid", "correct horse battery 42", is_staff=True)


def dump(*labels: str, **options: object) -> str:
    out = StringIO()
    call_command("dumpdata", *labels, stdout=out, **options)
    return out.getvalue()


def test_dumping_accounts_and_messages_without_naming_oneself_is_refused(world: World) -> None:
    book(world, f.paris(2026, 3, 3, 9, 0))
    before = AuditEvent.objects.count()
    out = StringIO()
    with pytest.raises(CommandError, match="--operator"):
        call_command("dumpdata", "accounts.user", "notifications.outboundmessage", stdout=out)
    assert out.getvalue() == ""
    assert AuditEvent.objects.count() == before
    with pytest.raises(CommandError, match="--operator"):
        call_command("dumpdata", stdout=StringIO())  # everything includes them


def test_a_named_operator_dump_is_audited_with_its_scope(world: World, operator: User) -> None:
    appointment = book(world, f.paris(2026, 3, 3, 9, 0))
    outbox.deliver_due()
    messages = len(json.loads(dump("notifications.outboundmessage", operator=operator.email)))
    text = dump(
        "accounts.user", "patients.patient", "booking.appointment", operator=operator.email, reason="ticket 4521"
    )
    assert world.user.email in text  # the dump itself is what it was
    event = AuditEvent.objects.filter(via="command:dumpdata").order_by("-id").first()
    assert event is not None
    assert event.principal == f"user:{operator.pk}" and event.channel == "command" and event.action == "export"
    scope = event.changes["scope"]
    assert scope["accounts.User"] == User.objects.count() and scope["booking.Appointment"] == 1
    assert event.changes["reason"] == "ticket 4521"
    covered = set(AuditAccess.objects.filter(event=event).values_list("patient_id", flat=True))
    assert {world.patient.pk, world.caller.pk} <= covered
    assert AuditAccess.objects.filter(event=event, appointment_id=appointment.pk).exists()
    assert messages >= 1


def test_only_an_operator_account_may_be_named(world: World) -> None:
    with pytest.raises(CommandError, match="platform operator"):
        dump("patients.patient", operator=world.user.email)
    with pytest.raises(CommandError, match="platform operator"):
        dump("patients.patient", operator="nobody@example.invalid")


def test_models_without_personal_data_dump_freely(world: World) -> None:
    before = AuditEvent.objects.count()
    assert json.loads(dump("directory.organization"))
    assert AuditEvent.objects.count() == before


def test_key_rotation_records_what_it_decrypted_and_who_ran_it(world: World, operator: User) -> None:
    with override_settings(CRENEAU_FIELD_KEYS=[NEW_KEY, envkeys.DEV_FIELD_KEYS[0]]):
        call_command("rotate_keys", batch_size=500, operator=operator.email, stdout=StringIO())
    events = list(AuditEvent.objects.filter(via="command:rotate_keys"))
    assert events and {e.principal for e in events} == {f"user:{operator.pk}"}
    scope: dict[str, int] = {}
    for e in events:
        for label, n in e.changes["scope"].items():
            scope[label] = scope.get(label, 0) + n
    assert scope["patients.Patient"] == 2 and scope["accounts.User"] == User.objects.count()
    covered = set(AuditAccess.objects.filter(event__in=events).values_list("patient_id", flat=True))
    assert covered == {world.patient.pk, world.caller.pk}


def test_key_rotation_without_an_operator_names_the_system_account_that_ran_it(world: World) -> None:
    with override_settings(CRENEAU_FIELD_KEYS=[NEW_KEY, envkeys.DEV_FIELD_KEYS[0]]):
        call_command("rotate_keys", stdout=StringIO())
    event = AuditEvent.objects.filter(via="command:rotate_keys").first()
    assert event is not None and event.actor_kind == "system" and event.changes["os_user"]
