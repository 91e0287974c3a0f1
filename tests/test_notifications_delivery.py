"""Delivered exactly once: a worker killed between sending and marking, and workers racing.

The crash is simulated with the outbox's fault hook: it raises a BaseException right after the
channel accepted the message and before the row is marked sent, exactly where a killed process
would stop. Concurrency uses real threads with their own connections on the real database (SQLite
in the first pass of `make test`, PostgreSQL in the second)."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import connection
from pytest_django.fixtures import Settings

from creneau.core import clock
from creneau.notifications import outbox
from creneau.notifications.models import Kind, MessageChannel, MessageStatus, OutboundMessage
from creneau.notifications.sms import LocmemSmsBackend

from . import factories as f
from .notif_support import book, pending, sms_gateway
from .personas import World


def _after(lease_expires_at: dt.datetime | None) -> dt.datetime:
    """A second after a message's lease ran out."""
    assert lease_expires_at is not None
    return lease_expires_at + dt.timedelta(seconds=1)


class WorkerKilled(BaseException):
    """What the process sees of a SIGKILL: nothing after this point runs."""


def crash(_message: object) -> None:
    raise WorkerKilled


@pytest.fixture(autouse=True)
def locmem_sms(settings: Settings) -> Iterator[None]:
    settings.CRENEAU_SMS_BACKEND = "creneau.notifications.sms.LocmemSmsBackend"
    LocmemSmsBackend.reset()
    yield
    LocmemSmsBackend.reset()


def _confirmation(channel: MessageChannel) -> OutboundMessage:
    return OutboundMessage.objects.get(kind=Kind.BOOKING_CONFIRMATION, channel=channel)


@pytest.mark.django_db
def test_sms_killed_between_send_and_mark_is_delivered_once_after_the_lease(world: World, settings: Settings) -> None:
    with sms_gateway(settings) as gateway:
        book(world, f.paris(2026, 3, 2, 10, 0))
        sms = _confirmation(MessageChannel.SMS)
        with outbox.fault_hook("after_send", crash), pytest.raises(WorkerKilled):
            outbox.deliver_ids([sms.pk])
        sms.refresh_from_db()
        assert sms.status == MessageStatus.SENDING and len(gateway.delivered) == 1
        # Another worker right away: the lease still stands, nobody touches it.
        assert outbox.deliver_ids([sms.pk]) == 0
        assert len(gateway.requests) == 1
        # The lease expires: the message is reclaimed, resent with the same idempotency key.
        with clock.frozen_at(_after(sms.lease_expires_at)):
            assert outbox.deliver_due() >= 1
        sms.refresh_from_db()
        assert sms.status == MessageStatus.SENT and sms.attempts == 2
        assert [r["key"] for r in gateway.requests] == [str(sms.pk), str(sms.pk)]
        assert len(gateway.delivered) == 1  # the patient's phone rang once
        assert sms.provider_id == gateway.delivered[str(sms.pk)]["id"]


@pytest.mark.django_db
def test_killed_after_claiming_but_before_sending_it_is_sent_once_after_the_lease(world: World) -> None:
    book(world, f.paris(2026, 3, 2, 10, 0))
    email = _confirmation(MessageChannel.EMAIL)
    with outbox.fault_hook("before_send", crash), pytest.raises(WorkerKilled):
        outbox.deliver_ids([email.pk])
    email.refresh_from_db()
    assert email.status == MessageStatus.SENDING and not mail.outbox
    with clock.frozen_at(_after(email.lease_expires_at)):
        outbox.deliver_due()
        outbox.deliver_due()
    email.refresh_from_db()
    assert email.status == MessageStatus.SENT and len(mail.outbox) == 1


@pytest.mark.django_db
def test_file_sms_backend_is_idempotent_too(world: World, settings: Settings, tmp_path: Path) -> None:
    settings.CRENEAU_SMS_BACKEND = "creneau.notifications.sms.FileSmsBackend"
    settings.CRENEAU_SMS_FILE_DIR = str(tmp_path)
    book(world, f.paris(2026, 3, 2, 10, 0))
    sms = _confirmation(MessageChannel.SMS)
    with outbox.fault_hook("after_send", crash), pytest.raises(WorkerKilled):
        outbox.deliver_ids([sms.pk])
    sms.refresh_from_db()
    with clock.frozen_at(_after(sms.lease_expires_at)):
        outbox.deliver_ids([sms.pk])
    assert [p.name for p in tmp_path.iterdir()] == [f"{sms.pk}.txt"]


@pytest.mark.django_db
def test_email_killed_between_send_and_mark_is_never_lost_and_duplicated_at_most_once(world: World) -> None:
    """SMTP has no idempotency key: the documented bound is one duplicate per crash in that window,
    carrying the same Message-ID so mail clients can fold it."""
    book(world, f.paris(2026, 3, 2, 10, 0))
    email = _confirmation(MessageChannel.EMAIL)
    with outbox.fault_hook("after_send", crash), pytest.raises(WorkerKilled):
        outbox.deliver_ids([email.pk])
    email.refresh_from_db()
    with clock.frozen_at(_after(email.lease_expires_at)):
        outbox.deliver_due()
        outbox.deliver_due()
    email.refresh_from_db()
    assert email.status == MessageStatus.SENT
    assert len(mail.outbox) == 2
    assert {m.extra_headers["Message-ID"] for m in mail.outbox} == {f"<{email.pk}@127.0.0.1>"}


@pytest.mark.django_db
def test_a_message_whose_worker_keeps_dying_ends_failed_not_lost(world: World, settings: Settings) -> None:
    settings.CRENEAU_OUTBOX_MAX_ATTEMPTS = 2
    book(world, f.paris(2026, 3, 2, 10, 0))
    sms = _confirmation(MessageChannel.SMS)
    moment = clock.now()
    for _ in range(2):
        with clock.frozen_at(moment), outbox.fault_hook("after_send", crash), pytest.raises(WorkerKilled):
            outbox.deliver_ids([sms.pk])
        moment += dt.timedelta(seconds=settings.CRENEAU_OUTBOX_LEASE_SECONDS + 1)
    with clock.frozen_at(moment):
        outbox.deliver_ids([sms.pk])
    sms.refresh_from_db()
    assert sms.status == MessageStatus.FAILED and "too many attempts" in sms.last_error
    assert LocmemSmsBackend.calls == [str(sms.pk), str(sms.pk)]


@pytest.mark.django_db
def test_a_reminder_is_not_sent_before_its_time(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 20, 10, 0))  # e-mails 7 days and 1 day before, the SMS 2 days before
    outbox.deliver_due()
    reminders = pending(appointment=appt, kind=Kind.REMINDER)
    assert len(reminders) == 3
    first = min(r.send_after for r in reminders)
    with clock.frozen_at(first - dt.timedelta(seconds=1)):
        assert outbox.deliver_due() == 0
    with clock.frozen_at(first):
        assert outbox.deliver_due() == 1
    assert len(pending(appointment=appt, kind=Kind.REMINDER)) == 2


@pytest.mark.django_db(transaction=True)
def test_worker_command_runs_the_queued_tasks_and_the_sweep(world: World) -> None:
    from django_tasks_db.models import DBTaskResult

    book(world, f.paris(2026, 3, 3, 10, 0))
    tasks = DBTaskResult.objects.filter(task_path__endswith="deliver_messages")
    # Confirmation now; the day-before reminders' task waits for its time (Monday 10:00).
    assert tasks.count() == 2 and tasks.filter(run_after=f.paris(2026, 3, 2, 10, 0)).count() == 1
    call_command("notifications_worker", "--once")
    assert _confirmation(MessageChannel.EMAIL).status == MessageStatus.SENT
    assert _confirmation(MessageChannel.SMS).status == MessageStatus.SENT
    immediate = tasks.exclude(run_after=f.paris(2026, 3, 2, 10, 0)).get()
    assert immediate.status == "SUCCESSFUL" and immediate.return_value == 2
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_never_send_the_same_message_twice(world: World, settings: Settings) -> None:
    people = [f.patient_account(given_name=f"P{i}") for i in range(12)]
    for i, (_user, patient, actor) in enumerate(people):
        book(
            world,
            f.paris(2026, 3, 2, 9, 0) + dt.timedelta(minutes=30 * (i % 6)) + dt.timedelta(days=i // 6),
            actor=actor,
            patient=patient,
        )
    due = OutboundMessage.objects.filter(status=MessageStatus.PENDING, send_after__lte=clock.now()).count()
    assert due == 24
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                outbox.deliver_due(limit=100)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    email_ids = Counter(m.extra_headers["Message-ID"] for m in mail.outbox)
    assert len(email_ids) == 12 and set(email_ids.values()) == {1}
    assert len(LocmemSmsBackend.calls) == 12 and len(set(LocmemSmsBackend.calls)) == 12
    assert OutboundMessage.objects.filter(status=MessageStatus.SENT).count() == 24


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgresql://{auth}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_on_the_same_database_send_each_message_once(world: World) -> None:
    """The real command, twice, as separate OS processes (console e-mail and console SMS: neither
    deduplicates, so a double send would show in their output)."""
    people = [f.patient_account(given_name=f"P{i}") for i in range(12)]
    for i, (_user, patient, actor) in enumerate(people):
        start = f.paris(2026, 3, 2, 9, 0) + dt.timedelta(minutes=30 * (i % 6), days=i // 6)
        book(world, start, actor=actor, patient=patient)
    # The subprocesses run on the real clock, when these March appointments are past: confirmations
    # go out, reminders are withdrawn as too late.
    ids = {str(pk) for pk in OutboundMessage.objects.exclude(kind=Kind.REMINDER).values_list("pk", flat=True)}
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DATABASE_URL": _database_url(),
        "CRENEAU_SMS_BACKEND": "creneau.notifications.sms.ConsoleSmsBackend",
    }
    cmd = [sys.executable, "manage.py", "notifications_worker", "--once"]
    procs = [
        subprocess.Popen(cmd, cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err.decode()[-2000:] for _out, err in outputs]
    stdout = b"".join(out for out, _err in outputs).decode()
    domain = "127.0.0.1"
    sent = re.findall(rf"Message-ID: <([0-9a-f-]+)@{re.escape(domain)}>", stdout)
    sent += re.findall(r"--- SMS ([0-9a-f-]+) to ", stdout)
    assert Counter(sent) == Counter(ids)  # every message exactly once
    assert OutboundMessage.objects.filter(status__in=[MessageStatus.PENDING, MessageStatus.SENDING]).count() == 0


@pytest.mark.django_db
def test_finished_messages_are_forgotten_after_the_retention_period(world: World, settings: Settings) -> None:
    settings.CRENEAU_OUTBOX_RETENTION_DAYS = 30
    book(world, f.paris(2026, 3, 5, 10, 0))
    outbox.deliver_due()
    assert OutboundMessage.objects.count() == 4  # confirmation e-mail and SMS, the day-before e-mail and SMS
    with clock.frozen_at(clock.now() + dt.timedelta(days=31)):
        OutboundMessage.objects.update(created_at=f.paris(2026, 3, 2, 7, 0))  # auto_now_add used the real clock
        outbox.deliver_due()  # the reminders are long overdue: withdrawn, not sent after the visit
        assert set(OutboundMessage.objects.filter(kind=Kind.REMINDER).values_list("status", flat=True)) == {
            MessageStatus.CANCELLED
        }
        assert outbox.prune() == 4
    assert not OutboundMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_send_slower_than_the_lease_keeps_its_claim_and_is_sent_once(
    world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease is short so that a crashed worker's message goes out again within a minute; a slow
    gateway must not make another worker think this one died."""
    settings.CRENEAU_OUTBOX_LEASE_SECONDS = 2
    book(world, f.paris(2026, 3, 2, 10, 0))
    sms = _confirmation(MessageChannel.SMS)
    real_send = outbox._send
    rival: list[object] = []

    def slow_send(message: OutboundMessage) -> str:
        time.sleep(3.5)  # well past the 2 s lease
        rival.append(outbox.claim(message.pk))  # another worker's sweep, now
        return real_send(message)

    monkeypatch.setattr(outbox, "_send", slow_send)
    assert outbox.deliver_ids([sms.pk]) == 1
    assert rival == [None], "the claim lapsed while the gateway was still sending"
    sms.refresh_from_db()
    assert sms.status == MessageStatus.SENT and sms.attempts == 1 and sms.lease_expires_at is None
    assert LocmemSmsBackend.calls == [str(sms.pk)]


def test_the_default_lease_sends_a_crashed_workers_message_again_within_a_minute() -> None:
    # The next sweep (every pass, 2 s when idle) after the lease runs out.
    assert settings.CRENEAU_OUTBOX_LEASE_SECONDS + 2 <= 60


@pytest.mark.django_db(transaction=True)
def test_task_rows_a_dead_worker_left_running_are_made_ready_and_then_run(world: World) -> None:
    from django.tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from creneau.notifications.tasks import deliver_messages, stuck_tasks_reclaim

    book(world, f.paris(2026, 3, 2, 10, 0))
    email = _confirmation(MessageChannel.EMAIL)
    # Two outbox wake-ups: one whose worker was killed long ago, one another worker is running now.
    stuck = DBTaskResult.objects.get(pk=deliver_messages.enqueue(message_ids=[str(email.pk)]).id)
    fresh = DBTaskResult.objects.get(pk=deliver_messages.enqueue(message_ids=[str(email.pk)]).id)
    long_ago = clock.now() - dt.timedelta(seconds=settings.CRENEAU_TASK_STUCK_SECONDS + 60)
    DBTaskResult.objects.filter(pk=stuck.pk).update(status=TaskResultStatus.RUNNING, started_at=long_ago)
    DBTaskResult.objects.filter(pk=fresh.pk).update(status=TaskResultStatus.RUNNING, started_at=clock.now())
    assert stuck_tasks_reclaim() == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == TaskResultStatus.READY and fresh.status == TaskResultStatus.RUNNING
    call_command("notifications_worker", once=True, verbosity=0)
    stuck.refresh_from_db()
    assert stuck.status == TaskResultStatus.SUCCESSFUL
    assert mail.outbox, "the reclaimed wake-up delivered the confirmation"
