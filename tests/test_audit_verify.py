"""`audit_verify` finds any modified, deleted or reordered audit row, and truncation after a checkpoint.

The tests act as an attacker with database superuser rights would: they switch the append-only
triggers off first (PostgreSQL: session_replication_role; SQLite: drop the trigger)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from creneau.audit.models import AuditAccess, AuditEvent, AuditSeal
from creneau.audit.services import Touched, audit_checkpoint, audit_record, audit_seal
from creneau.audit.verify import audit_verify
from creneau.core.actors import Actor, ActorKind, Channel

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def checkpoint_file(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    settings.CRENEAU_AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.log")
    return tmp_path / "checkpoints.log"


def _trail(n: int = 6) -> list[AuditEvent]:
    actor = Actor(kind=ActorKind.API_CLIENT, channel=Channel.API, api_client_id="c1")
    import uuid

    return [
        audit_record(
            actor=actor,
            action="read",
            object_type="appointment",
            touched=[Touched(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())],
        )
        for _ in range(n)
    ]


@contextlib.contextmanager
def attacker() -> Iterator[None]:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET session_replication_role = replica")
        else:
            for table in ("audit_auditevent", "audit_auditaccess", "audit_auditseal"):
                cur.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")
    try:
        yield
    finally:
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SET session_replication_role = origin")


def test_an_untouched_trail_verifies_clean() -> None:
    _trail()
    audit_checkpoint()
    assert audit_verify() == []
    call_command("audit_verify", verbosity=0)


def test_the_database_refuses_to_update_an_audit_row() -> None:
    event = _trail(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="search")


@pytest.mark.postgres
def test_postgres_refuses_to_delete_an_audit_row() -> None:
    event = _trail(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditAccess.objects.filter(event_id=event.pk).delete()


def test_a_modified_row_is_reported_where_it_is() -> None:
    events = _trail()
    audit_seal()
    with attacker():
        AuditEvent.objects.filter(pk=events[2].pk).update(principal="client:someone-else")
    problems = audit_verify()
    assert [(p.kind, p.where) for p in problems] == [("modified", f"event {events[2].pk}")]
    with pytest.raises(CommandError):
        call_command("audit_verify", verbosity=0)


def test_a_changed_access_row_is_reported_as_a_modified_event() -> None:
    events = _trail()
    audit_seal()
    import uuid

    with attacker():
        AuditAccess.objects.filter(event_id=events[4].pk).update(patient_id=uuid.uuid4())
    assert [(p.kind, p.where) for p in audit_verify()] == [("modified", f"event {events[4].pk}")]


def test_a_deleted_row_is_reported() -> None:
    events = _trail()
    audit_seal()
    with attacker():
        AuditAccess.objects.filter(event_id=events[1].pk).delete()
        AuditSeal.objects.filter(event_id=events[1].pk).delete()
        AuditEvent.objects.filter(pk=events[1].pk).delete()
    kinds = {p.kind for p in audit_verify()}
    assert "reordered" in kinds  # the chain no longer links


def test_reordering_rows_is_reported() -> None:
    events = _trail()
    audit_seal()
    a, b = (AuditSeal.objects.get(event_id=events[i].pk) for i in (1, 2))
    with attacker():
        AuditSeal.objects.filter(pk=a.pk).update(event_id=events[2].pk + 1000)
        AuditSeal.objects.filter(pk=b.pk).update(event_id=events[1].pk)
        AuditSeal.objects.filter(pk=a.pk).update(event_id=events[2].pk)
    assert {p.kind for p in audit_verify()} >= {"modified"}


def test_truncating_the_tail_after_a_checkpoint_is_reported() -> None:
    events = _trail()
    audit_checkpoint()
    with attacker():
        for e in events[-2:]:
            AuditAccess.objects.filter(event_id=e.pk).delete()
            AuditSeal.objects.filter(event_id=e.pk).delete()
            AuditEvent.objects.filter(pk=e.pk).delete()
    assert "truncated" in {p.kind for p in audit_verify()}


def test_a_forged_checkpoint_is_reported(checkpoint_file: Path) -> None:
    _trail()
    audit_checkpoint()
    checkpoint_file.write_text(checkpoint_file.read_text().replace(" ", " ", 1)[:-5] + "beef\n")
    assert "bad-signature" in {p.kind for p in audit_verify()}
