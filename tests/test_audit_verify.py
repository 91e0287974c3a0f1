"""`audit_verify` finds any modified, deleted, reordered or forged audit row, a truncated tail, a
recomputed chain and a stalled sealer, on either database.

The attacker here has write access to the database file (SQLite: it drops the append-only trigger).
The PostgreSQL attacks, as the owner and as a superuser against least-privilege roles, are in
tests/test_audit_integrity_pg.py."""

from __future__ import annotations

import base64
import datetime as dt
import os
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from pytest_django.fixtures import Settings

from creneau.audit import keys
from creneau.audit.models import AuditAccess, AuditCheckpoint, AuditEvent, AuditSeal
from creneau.audit.services import Touched, audit_record, audit_seal, write_mac
from creneau.audit.verify import audit_verify
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind, Channel

pytestmark = pytest.mark.django_db


def _trail(n: int = 6, client: str = "c1") -> list[AuditEvent]:
    actor = Actor(kind=ActorKind.API_CLIENT, channel=Channel.API, api_client_id=client, ip="2001:db8::1")
    return [
        audit_record(
            actor=actor,
            action="read",
            object_type="appointment",
            touched=[Touched(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())],
        )
        for _ in range(n)
    ]


def kinds() -> list[tuple[str, str]]:
    return [(p.kind, p.where) for p in audit_verify()]


def drop_sqlite_triggers() -> None:
    with connection.cursor() as cur:
        for table in ("audit_auditevent", "audit_auditaccess", "audit_auditseal", "audit_auditcheckpoint"):
            cur.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_an_untouched_trail_verifies_clean() -> None:
    _trail()
    audit_seal()
    assert audit_verify() == []
    call_command("audit_verify", verbosity=0)


def test_every_seal_publishes_a_head_signed_with_the_ed25519_key(_fresh_audit_anchor: Path) -> None:
    _trail(3)
    audit_seal()
    _trail(2)
    audit_seal()
    lines = _fresh_audit_anchor.read_text().splitlines()
    assert len(lines) == 2 and AuditCheckpoint.objects.count() == 2
    last = AuditSeal.objects.order_by("-seq")[0]
    assert f'"seq":{last.seq}' in lines[-1] and last.hash in lines[-1]
    audit_seal()  # nothing new: nothing published
    assert len(_fresh_audit_anchor.read_text().splitlines()) == 2


def test_the_database_refuses_to_update_an_audit_row() -> None:
    event = _trail(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="search")


@pytest.mark.sqlite
def test_a_modified_row_is_reported_where_it_is() -> None:
    events = _trail()
    audit_seal()
    drop_sqlite_triggers()
    AuditEvent.objects.filter(pk=events[2].pk).update(principal="client:someone-else")
    assert kinds() == [("modified", f"event {events[2].pk}")]
    with pytest.raises(CommandError):
        call_command("audit_verify", verbosity=0)


@pytest.mark.sqlite
def test_a_changed_access_row_is_reported_as_a_modified_event() -> None:
    events = _trail()
    audit_seal()
    drop_sqlite_triggers()
    AuditAccess.objects.filter(event_id=events[4].pk).update(patient_id=uuid.uuid4())
    assert kinds() == [("modified", f"event {events[4].pk}")]


@pytest.mark.sqlite
def test_a_deleted_row_is_reported() -> None:
    events = _trail()
    audit_seal()
    AuditAccess.objects.filter(event_id=events[1].pk).delete()
    AuditSeal.objects.filter(event_id=events[1].pk).delete()
    AuditEvent.objects.filter(pk=events[1].pk).delete()
    assert ("reordered", f"seal {AuditSeal.objects.get(event_id=events[2].pk).seq}") in kinds()


@pytest.mark.sqlite
def test_swapping_seals_between_events_is_reported() -> None:
    events = _trail()
    audit_seal()
    a, b = (AuditSeal.objects.get(event_id=events[i].pk) for i in (1, 2))
    drop_sqlite_triggers()
    AuditSeal.objects.filter(pk=a.pk).update(event_id=events[2].pk + 1000)
    AuditSeal.objects.filter(pk=b.pk).update(event_id=events[1].pk)
    AuditSeal.objects.filter(pk=a.pk).update(event_id=events[2].pk)
    assert {k for k, _ in kinds()} == {"bad-seal"}


@pytest.mark.sqlite
def test_removing_the_newest_events_after_their_head_was_published_is_a_truncation() -> None:
    events = _trail()
    audit_seal()
    for e in events[-2:]:
        AuditAccess.objects.filter(event_id=e.pk).delete()
        AuditSeal.objects.filter(event_id=e.pk).delete()
        AuditEvent.objects.filter(pk=e.pk).delete()
    AuditCheckpoint.objects.all().delete()  # the database's own copy goes too; the sink remains
    problems = audit_verify()
    assert [p.kind for p in problems] == ["truncated"] and "sink (file" in problems[0].where


@pytest.mark.sqlite
def test_heads_left_by_another_database_are_reported_as_another_trail_not_as_truncation(
    _fresh_audit_anchor: Path,
) -> None:
    _trail(4)
    audit_seal()  # the sink now holds a head of this trail, up to seq 4
    old_trail = AuditSeal.objects.order_by("seq")[0].hash
    # The database is recreated (here: emptied), the sink file kept; the new database seals its own trail.
    for model in (AuditAccess, AuditSeal, AuditCheckpoint, AuditEvent):
        model.objects.all().delete()
    _trail(2)
    audit_seal()
    problems = audit_verify()
    assert [p.kind for p in problems] == ["other-trail"], problems
    assert old_trail[:12] in problems[0].detail and "sink (file" in problems[0].where
    # The heads published for the new trail name it and verify.
    assert AuditCheckpoint.objects.get().trail == AuditSeal.objects.order_by("seq")[0].hash


@pytest.mark.sqlite
def test_an_emptied_trail_under_published_heads_is_a_truncation() -> None:
    _trail(3)
    audit_seal()
    for model in (AuditAccess, AuditSeal, AuditCheckpoint, AuditEvent):
        model.objects.all().delete()
    problems = audit_verify()
    assert [p.kind for p in problems] == ["truncated"] and "ends at seq 0" in problems[0].detail


@pytest.mark.sqlite
def test_an_event_inserted_without_the_write_mac_is_reported_as_forged_once_sealed() -> None:
    _trail(2)
    forged = AuditEvent.objects.create(
        at=clock.now(), principal="client:victim", actor_kind="api_client", channel="api",
        api_client_id="victim", action="read", object_type="appointment", mac="dev:" + "0" * 64,
    )  # fmt: skip
    assert ("forged", f"event {forged.pk}") in kinds()  # already before sealing
    audit_seal()
    assert kinds() == [("forged", f"event {forged.pk}")]


def test_a_published_head_signed_by_another_key_is_reported(_fresh_audit_anchor: Path, settings: Settings) -> None:
    _trail()
    audit_seal()
    settings.CRENEAU_AUDIT_SIGNING_KEY = _key()
    _trail(1)
    audit_seal()
    problems = audit_verify()
    assert {p.kind for p in problems} == {"bad-signature"}  # in the file and in the database copy
    assert len(problems) == 2


def test_seal_keys_rotate_like_field_keys(settings: Settings) -> None:
    old = settings.CRENEAU_AUDIT_SEAL_KEYS
    _trail(3)
    audit_seal()
    settings.CRENEAU_AUDIT_SEAL_KEYS = [("k2027", _key()), *old]
    new = _trail(2)
    audit_seal()
    assert AuditSeal.objects.get(event_id=new[0].pk).key_id == "k2027"
    assert audit_verify() == []
    settings.CRENEAU_AUDIT_SEAL_KEYS = settings.CRENEAU_AUDIT_SEAL_KEYS[:1]  # the old key removed too early
    assert {p.kind for p in audit_verify()} == {"unknown-key"}


def test_heads_signed_before_a_signing_key_rotation_still_verify(settings: Settings) -> None:
    _trail(2)
    audit_seal()
    previous = keys.public_key_text()
    settings.CRENEAU_AUDIT_SIGNING_KEY = _key()
    settings.CRENEAU_AUDIT_PUBLIC_KEYS = [previous]
    _trail(1)
    audit_seal()
    assert audit_verify() == []


def test_events_left_unsealed_longer_than_the_grace_period_are_reported(settings: Settings) -> None:
    _trail(2)
    assert audit_verify() == []  # within the seal interval: nothing to say
    with clock.frozen_at(clock.now() + dt.timedelta(seconds=settings.CRENEAU_AUDIT_UNSEALED_GRACE_SECONDS + 1)):
        assert kinds() == [("unsealed", "tail")]
    audit_seal()
    assert audit_verify() == []


def test_seals_that_no_sink_holds_a_head_for_are_reported(_fresh_audit_anchor: Path, settings: Settings) -> None:
    _trail(2)
    audit_seal()
    _fresh_audit_anchor.unlink()  # the local head file is gone
    with clock.frozen_at(clock.now() + dt.timedelta(seconds=settings.CRENEAU_AUDIT_UNSEALED_GRACE_SECONDS + 1)):
        problems = audit_verify()
    assert [p.kind for p in problems] == ["unanchored"] and "sink (file" in problems[0].where


def test_the_write_mac_survives_the_round_trip_through_the_database() -> None:
    actor = Actor(kind=ActorKind.STAFF, channel=Channel.WEB, ip="::ffff:192.0.2.7", role="secretary")
    event = audit_record(
        actor=actor, action="update", object_type="motif", object_id=uuid.uuid4(),
        changes={"minutes": [15, 20], "label": ["Consultation", "Consultation – suivi"], "ratio": [0.5, 1.25]},
        touched=[Touched(organization_id=uuid.uuid4())],
    )  # fmt: skip
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.mac == write_mac(stored, list(AuditAccess.objects.filter(event_id=event.pk)))
