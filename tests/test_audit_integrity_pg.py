"""An insider with database access cannot rewrite the audit trail unnoticed (PostgreSQL, issue 20).

The application (this test process) runs as the runtime role, which may only INSERT and SELECT the audit
tables. The attacker then acts as the owner of the tables or as a superuser, through a connection of its
own, after events were sealed and their head published: `audit_verify` must name what was done. The
remote anchor sink is the real append-only log server of deploy/, in a process of its own."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from creneau.audit import keys
from creneau.audit.checks import audit_runtime_role, runtime_role_problems
from creneau.audit.models import AuditEvent, AuditSeal
from creneau.audit.services import Touched, audit_record, audit_seal
from creneau.audit.verify import Problem, audit_verify
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.incidents.services import incident_scope

from . import pg_roles

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("audit_auditevent", "audit_auditaccess", "audit_auditseal", "audit_auditcheckpoint")


@pytest.fixture(autouse=True)
def _least_privilege() -> None:
    """The PostgreSQL pass must run as the runtime role: without the owner URL these tests fail."""
    assert os.environ.get("DATABASE_OWNER_URL"), "make test-postgres sets DATABASE_OWNER_URL (runtime/owner roles)"
    assert os.environ.get("CRENEAU_PG_SUPERUSER_URL"), "make test-postgres sets CRENEAU_PG_SUPERUSER_URL"
    with connection.cursor() as cur:
        cur.execute("SELECT session_user")
        assert cur.fetchone()[0] == django_settings.CRENEAU_DB_RUNTIME_ROLE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def remote_log(tmp_path: Path, settings: Any, _fresh_audit_anchor: Path) -> Iterator[Path]:
    """deploy/anchor_log_server.py on a port of its own, added as a second sink after the local file."""
    port = _free_port()
    log = tmp_path / "remote" / "heads.log"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy" / "anchor_log_server.py"), "--file", str(log), "--port", str(port),
         "--public-key", keys.public_key_text(), "--token-file", str(_token(tmp_path))],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None and b"anchor log on" in proc.stdout.readline()
    settings.CRENEAU_AUDIT_ANCHOR_SINKS = [
        *settings.CRENEAU_AUDIT_ANCHOR_SINKS,
        {
            "BACKEND": "creneau.audit.anchors.HttpLogSink",
            "OPTIONS": {"url": f"http://127.0.0.1:{port}/", "token": "remote-log-token"},
        },
    ]
    yield log
    proc.terminate()
    proc.wait(timeout=10)


def _token(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("remote-log-token")
    return path


def _trail(n: int = 6, client: str = "c1") -> list[AuditEvent]:
    actor = Actor(kind=ActorKind.API_CLIENT, channel=Channel.API, api_client_id=client)
    return [
        audit_record(
            actor=actor,
            action="read",
            object_type="appointment",
            touched=[Touched(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())],
        )
        for _ in range(n)
    ]


def by_kind(problems: list[Problem]) -> dict[str, list[Problem]]:
    out: dict[str, list[Problem]] = {}
    for p in problems:
        out.setdefault(p.kind, []).append(p)
    return out


def superuser_sql(*statements: tuple[str, list[Any]] | str) -> None:
    """Run as a superuser with every trigger off (session_replication_role = replica)."""
    with pg_roles.as_superuser() as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        for s in statements:
            sql, params = (s, []) if isinstance(s, str) else s
            cur.execute(sql, params)


def delete_events(ids: list[int]) -> None:
    superuser_sql(
        ("DELETE FROM audit_auditaccess WHERE event_id = ANY(%s)", [ids]),
        ("DELETE FROM audit_auditseal WHERE event_id = ANY(%s)", [ids]),
        ("DELETE FROM audit_auditevent WHERE id = ANY(%s)", [ids]),
        "DELETE FROM audit_auditcheckpoint",
    )


# --- the runtime role --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET principal = 'client:other'",
        "DELETE FROM audit_auditevent",
        "DELETE FROM audit_auditseal",
        "TRUNCATE audit_auditevent",
        "TRUNCATE audit_auditaccess, audit_auditseal, audit_auditcheckpoint",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only",
        "ALTER TABLE audit_auditseal DISABLE TRIGGER USER",
        "DROP TRIGGER audit_auditevent_no_truncate ON audit_auditevent",
        "SET session_replication_role = replica",
    ],
)
def test_the_runtime_role_may_not_change_remove_or_unprotect_audit_rows(statement: str) -> None:
    _trail(2)
    audit_seal()
    refused = pytest.raises(DatabaseError, match=r"permission denied|must be owner|superuser")
    with refused, transaction.atomic(), connection.cursor() as cur:
        cur.execute(statement)
    assert AuditEvent.objects.count() == 2 and audit_verify() == []


def test_truncate_is_refused_by_a_trigger_even_for_the_owner() -> None:
    _trail(2)
    with pg_roles.as_owner() as conn, pytest.raises(psycopg.errors.RaiseException, match="audit_append_only"):
        conn.execute("TRUNCATE audit_auditevent CASCADE")
    assert AuditEvent.objects.count() == 2


def test_production_refuses_a_runtime_role_that_could_rewrite_the_trail(settings: Any) -> None:
    runtime = settings.CRENEAU_DB_RUNTIME_ROLE
    owner = str(settings.DATABASE_OWNER["USER"])
    superuser = pg_roles.as_superuser().info.user
    assert runtime_role_problems(runtime) == []
    settings.CRENEAU_REQUIRE_REAL_KEYS = True
    assert audit_runtime_role() == []
    assert {p.split(":")[0] for p in runtime_role_problems(owner)} == {"E203"}
    assert {p.split(":")[0] for p in runtime_role_problems(superuser)} == {"E202", "E204"}
    settings.CRENEAU_DB_RUNTIME_ROLE = owner
    assert {e.id for e in audit_runtime_role()} == {"creneau.E203"}


# --- the owner or a superuser, after the head was published ------------------------------------------


def test_deleting_the_newest_sealed_events_is_reported_as_a_truncation() -> None:
    events = _trail()
    audit_seal()  # sealed, and the head published
    delete_events([e.pk for e in events[-2:]])
    problems = by_kind(audit_verify())
    assert set(problems) == {"truncated"}
    assert "sink (file" in problems["truncated"][0].where
    assert f"ends at seq {AuditSeal.objects.order_by('-seq')[0].seq}" in problems["truncated"][0].detail
    with pytest.raises(CommandError):
        call_command("audit_verify", verbosity=0)


def test_deleting_a_mid_chain_event_and_recomputing_the_later_seals_is_reported() -> None:
    events = _trail()
    audit_seal()
    gone = events[2]
    delete_events([gone.pk])
    # The attacker rebuilds the chain from the gap on, with every hash it can compute (no seal key).
    seals = list(AuditSeal.objects.filter(seq__gt=AuditSeal.objects.filter(event_id=events[1].pk).get().seq))
    prev = AuditSeal.objects.get(event_id=events[1].pk).hash
    updates = []
    for s in seals:
        digest = hashlib.sha256(f"{prev}:{s.event_id}".encode()).hexdigest()
        updates.append(("UPDATE audit_auditseal SET prev_hash = %s, hash = %s WHERE seq = %s", [prev, digest, s.seq]))
        prev = digest
    superuser_sql(*updates)
    problems = by_kind(audit_verify())
    assert set(problems) == {"bad-seal", "diverged"}
    assert [p.where for p in problems["bad-seal"]] == [f"seal {s.seq}" for s in seals]
    assert "sink (file" in problems["diverged"][0].where


def test_a_forged_read_inserted_by_a_superuser_is_flagged_and_its_writer_named() -> None:
    original = _trail(1, client="c1")[0]
    victim = _trail(1, client="victim")[0]
    audit_seal()
    # A replay of the victim's genuine event and its access row (its write MAC then matches), inserted by
    # the superuser with the triggers on, and a read "by the victim" of another record, with a MAC copied
    # from an event of another client.
    with pg_roles.as_superuser() as conn, conn.cursor() as cur:
        cols = ("at, principal, actor_kind, actor_role, channel, api_client_id, ip, action, object_type, outcome, "
                "via, record_count, object_id, changes, writer, mac")  # fmt: skip
        cur.execute(
            f"INSERT INTO audit_auditevent ({cols}) SELECT {cols} FROM audit_auditevent WHERE id = %s RETURNING id",
            [victim.pk],
        )
        row = cur.fetchone()
        assert row is not None
        replayed = row[0]
        cur.execute(
            "INSERT INTO audit_auditaccess (event_id, at, principal, patient_id, appointment_id, organization_id)"
            " SELECT %s, at, principal, patient_id, appointment_id, organization_id FROM audit_auditaccess"
            " WHERE event_id = %s",
            [replayed, victim.pk],
        )
        cur.execute(
            f"INSERT INTO audit_auditevent ({cols}) SELECT {
                cols.replace('principal', "'client:victim'").replace('api_client_id', "'victim'")
            } FROM audit_auditevent WHERE id = %s RETURNING id",
            [original.pk],
        )
        row = cur.fetchone()
        assert row is not None
        forged = row[0]
        stolen = uuid.uuid4()
        cur.execute(
            "INSERT INTO audit_auditaccess (event_id, at, principal, patient_id) "
            "SELECT id, at, principal, %s FROM audit_auditevent WHERE id = %s",
            [stolen, forged],
        )
    audit_seal()  # the application seals what it finds, forged rows included
    problems = {p.where: p for p in audit_verify()}
    assert set(problems) == {f"event {replayed}", f"event {forged}"}
    assert problems[f"event {replayed}"].kind == "forged"
    assert f"database role {pg_roles.as_superuser().info.user!r}" in problems[f"event {replayed}"].detail
    assert problems[f"event {forged}"].kind == "forged" and "write MAC" in problems[f"event {forged}"].detail
    # The victim's breach scope holds what it really received, not the forged read nor the replay.
    import datetime as dt

    scope = incident_scope(
        principal="client:victim", start=victim.at - dt.timedelta(days=1), end=victim.at + dt.timedelta(days=1)
    )
    genuine = {a.patient_id for a in victim.accesses.all()}
    assert scope.patients == genuine and stolen not in scope.patients
    assert (scope.events, scope.forged) == (1, 2)


def test_a_forged_insert_by_the_owner_role_is_flagged() -> None:
    _trail(2)
    with pg_roles.as_owner() as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO audit_auditevent (at, principal, actor_kind, actor_role, channel, api_client_id, action,"
            " object_type, outcome, via, record_count, object_id, changes, writer, db_role, mac)"
            " VALUES (now(), 'client:victim', 'api_client', '', 'api', 'victim', 'read', 'patient', 'ok', '', 0,"
            " '', '{}', 'web-1', %s, '') RETURNING id",
            [django_settings.CRENEAU_DB_RUNTIME_ROLE],  # the role it claims is overwritten by the trigger
        )
        row = cur.fetchone()
        assert row is not None
        forged = row[0]
    audit_seal()
    assert [(p.kind, p.where) for p in audit_verify()] == [("forged", f"event {forged}")]
    assert AuditEvent.objects.get(pk=forged).db_role == str(django_settings.DATABASE_OWNER["USER"])


def _truncate_everything() -> None:
    superuser_sql(f"TRUNCATE {', '.join(TABLES)}")


def test_truncating_the_audit_tables_is_reported_from_the_local_head_file() -> None:
    _trail()
    audit_seal()
    _truncate_everything()
    assert AuditEvent.objects.count() == 0
    problems = by_kind(audit_verify())
    assert set(problems) == {"truncated"}
    assert "sink (file" in problems["truncated"][0].where and "ends at seq 0" in problems["truncated"][0].detail


def test_truncating_the_tables_and_deleting_the_local_head_file_is_reported_from_the_remote_log(
    remote_log: Path, _fresh_audit_anchor: Path
) -> None:
    _trail()
    audit_seal()
    assert _fresh_audit_anchor.exists() and remote_log.exists()
    _truncate_everything()
    _fresh_audit_anchor.unlink()
    problems = by_kind(audit_verify())
    assert set(problems) == {"truncated"}
    assert [p.where for p in problems["truncated"]] == [f"sink (http http://127.0.0.1:{remote_log_port()}/)"]


def remote_log_port() -> int:
    sink = next(s for s in django_settings.CRENEAU_AUDIT_ANCHOR_SINKS if str(s["BACKEND"]).endswith("HttpLogSink"))
    return int(str(sink["OPTIONS"]["url"]).rsplit(":", 1)[1].strip("/"))  # type: ignore[index]


def test_an_auditor_with_only_the_public_key_verifies_the_remote_log_and_sees_forgeries(
    remote_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _trail(3)
    audit_seal()
    _trail(2)
    audit_seal()
    public = keys.public_key_text()
    url = f"http://127.0.0.1:{remote_log_port()}/"
    call_command("audit_anchor_check", public_key=[public], source=[url], token="remote-log-token")
    newest = AuditSeal.objects.order_by("-seq")[0]
    assert f"2 heads, all signed; newest: seq {newest.seq} hash {newest.hash}" in capsys.readouterr().out
    # A head the database host forged with a key of its own is refused by the log, and one written to the
    # log's file behind its back is caught by the auditor.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate()
    import base64

    from creneau.audit.anchors import Head

    head = Head(seq=newest.seq, hash="f" * 64, at="2026-12-02T08:00:00+00:00", kid=keys.signing_key()[0])
    forged = head.line().replace('"sig":""', f'"sig":"{base64.b64encode(other.sign(head.message())).decode()}"')
    import requests

    refused = requests.post(url, data=forged, headers={"Authorization": "Bearer remote-log-token"}, timeout=5)
    assert refused.status_code == 400
    assert requests.get(url, timeout=5).status_code == 401  # no token, no read
    with remote_log.open("a") as fh:
        fh.write(forged + "\n")
    with pytest.raises(CommandError, match="1 problem"):
        call_command("audit_anchor_check", public_key=[public], source=[url], token="remote-log-token")
    assert "not signed by the given key" in capsys.readouterr().err
    assert "bad-signature" in {p.kind for p in audit_verify()}


def test_a_remote_log_that_cannot_be_read_is_reported(remote_log: Path, settings: Any) -> None:
    _trail(1)
    audit_seal()
    sinks = settings.CRENEAU_AUDIT_ANCHOR_SINKS
    sinks[-1] = {**sinks[-1], "OPTIONS": {**sinks[-1]["OPTIONS"], "token": "wrong"}}
    settings.CRENEAU_AUDIT_ANCHOR_SINKS = sinks
    assert [p.kind for p in audit_verify()] == ["sink-unreadable"]


def test_heads_keep_being_published_while_the_application_runs(remote_log: Path) -> None:
    """Publication is continuous: each seal run publishes its head to the remote log at once."""
    for n in range(3):
        _trail(1)
        audit_seal()
        deadline = time.monotonic() + 5
        while len(remote_log.read_text().splitlines()) < n + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(remote_log.read_text().splitlines()) == n + 1
    assert audit_verify() == []
