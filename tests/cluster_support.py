"""Real gunicorn nodes and notification workers for multi-process tests (tests/test_multinode.py,
tests/test_faults.py): production settings, the test database, keys shared with the test process."""

from __future__ import annotations

import base64
import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

from creneau.notifications.models import Kind, MessageChannel, OutboundMessage

ROOT = Path(__file__).resolve().parent.parent
# Real (random) keys, which production settings require; the test process writes with them too (see the
# `production_keys` fixtures).
FIELD_KEYS = [("cluster", base64.b64encode(os.urandom(32)).decode())]
BLIND_INDEX_KEY = base64.b64encode(os.urandom(32)).decode()
_AUDIT_SIGNING_KEY = base64.b64encode(os.urandom(32)).decode()
_AUDIT_SEAL_KEY = base64.b64encode(os.urandom(32)).decode()


def database_url(host: str | None = None, port: int | None = None) -> str:
    """The test database's URL, as the test process's own connection reaches it (or through host:port)."""
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    auth = f"{user}:{db['PASSWORD']}@" if db["PASSWORD"] else f"{user}@"
    return f"postgresql://{auth}{host or db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 5432}/{db['NAME']}"


def environ(tmp: Path, *, redis_url: str, database: str | None = None, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        "DATABASE_URL": database or database_url(),
        "REDIS_URL": redis_url,
        "DJANGO_SECRET_KEY": "cluster-shared-secret-key-for-these-tests-only-0123456789",
        "CRENEAU_FIELD_KEYS": f"{FIELD_KEYS[0][0]}:{FIELD_KEYS[0][1]}",
        "CRENEAU_BLIND_INDEX_KEY": BLIND_INDEX_KEY,
        "CRENEAU_AUDIT_SIGNING_KEY": _AUDIT_SIGNING_KEY,
        "CRENEAU_AUDIT_SEAL_KEYS": f"cluster:{_AUDIT_SEAL_KEY}",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "CRENEAU_VAR_DIR": str(tmp),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_ACCESS_LOG": "",
        "GUNICORN_LOG_LEVEL": "warning",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def start_node(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    return subprocess.Popen(
        [gunicorn, "-c", "deploy/gunicorn.conf.py", "config.wsgi"],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        start_new_session=True,
    )


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "notifications_worker", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


def wait_up(port: int, proc: subprocess.Popen[bytes], deadline: float, path: str = "/accounts/login/") -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"node on port {port} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"node on port {port} did not start")


def worker_pids(master: subprocess.Popen[bytes]) -> list[int]:
    """The gunicorn worker processes of one node (the master's children)."""
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def queue_sms(n: int, label: str) -> set[str]:
    """n security SMS due now, straight into the outbox (what the workers under test deliver); their ids."""
    import datetime as dt
    import uuid

    now = dt.datetime.now(dt.UTC)
    messages = OutboundMessage.objects.bulk_create(
        OutboundMessage(
            kind=Kind.SECURITY_NEW_LOGIN,
            channel=MessageChannel.SMS,
            to_address="+33639980001",
            body_text=f"creneau: message {i}",
            code=f"{i:06d}",
            dedup_key=f"{label}-{uuid.uuid4().hex}",
            send_after=now,
        )
        for i in range(n)
    )
    return {str(m.pk) for m in messages}
