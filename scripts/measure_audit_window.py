"""Measure the audit trail's detection window against a real worker and a real remote anchor log.

    DATABASE_URL=postgresql://creneau_test_app@127.0.0.1:5432/creneau_x \
    DATABASE_OWNER_URL=postgresql://creneau_test_owner@127.0.0.1:5432/creneau_x \
    .venv/bin/python scripts/measure_audit_window.py [--samples 8]

Migrates (as the owner), starts deploy/anchor_log_server.py and one `notifications_worker` (which seals
and publishes every CRENEAU_AUDIT_SEAL_SECONDS), then records events at random moments and times, for
each, how long until a signed head covering it is in the remote log: the window in which deleting the
event would leave no trace. Also times one seal-and-publish of 1,000 events and one `audit_verify`.
Prints a summary (docs/audit.md quotes it). Development keys; the database is only added to."""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="creneau-window-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        CRENEAU_VAR_DIR=str(tmp),
        CRENEAU_AUDIT_ANCHOR_URL=f"http://127.0.0.1:{port}/",
        CRENEAU_AUDIT_ANCHOR_TOKEN="measure",
        CRENEAU_AUDIT_CHECKPOINT_FILE=str(tmp / "local-heads.log"),
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import requests
    from django.core.management import call_command

    from creneau.audit.keys import public_key_text
    from creneau.audit.models import AuditEvent, AuditSeal
    from creneau.audit.services import Touched, audit_record, audit_seal
    from creneau.audit.verify import audit_verify
    from creneau.core.actors import Actor, ActorKind, Channel

    call_command("migrate", verbosity=0)
    (tmp / "token").write_text("measure")
    log = subprocess.Popen(  # noqa: S603 (our own server script)
        [sys.executable, str(ROOT / "deploy/anchor_log_server.py"), "--file", str(tmp / "remote.log"),
         "--port", str(port), "--public-key", public_key_text(), "--token-file", str(tmp / "token")],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert log.stdout is not None
    log.stdout.readline()
    audit_seal()  # start from a sealed, published chain
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "notifications_worker", "--interval", "1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    # A principal per event, so that extraction detection stays out of the measurement.
    def actor() -> Actor:
        return Actor(kind=ActorKind.API_CLIENT, channel=Channel.API, api_client_id=f"measure-{uuid.uuid4().hex[:8]}")

    def remote_top() -> int:
        r = requests.get(f"http://127.0.0.1:{port}/", headers={"Authorization": "Bearer measure"}, timeout=5)
        return max((int(line.split('"seq":')[1].split(",")[0]) for line in r.text.splitlines()), default=0)

    windows = []
    try:
        time.sleep(3)
        for _ in range(args.samples):
            time.sleep(random.uniform(0, 30))
            event = audit_record(actor=actor(), action="read", object_type="patient", touched=[Touched(uuid.uuid4())])
            t0 = time.monotonic()
            while True:
                seal = AuditSeal.objects.filter(event_id=event.pk).first()
                if seal is not None and remote_top() >= seal.seq:
                    break
                time.sleep(0.1)
            windows.append(time.monotonic() - t0)
            print(f"event {event.pk}: covered by a remote head after {windows[-1]:.1f} s", flush=True)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    for _ in range(1000):
        audit_record(actor=actor(), action="read", object_type="patient", touched=[Touched(uuid.uuid4())])
    t = time.monotonic()
    audit_seal()
    seal_1000 = time.monotonic() - t
    total = AuditEvent.objects.count()
    t = time.monotonic()
    problems = audit_verify()
    verify_s = time.monotonic() - t
    log.terminate()
    print(
        f"\nwindow: median {sorted(windows)[len(windows) // 2]:.1f} s, max {max(windows):.1f} s"
        f" over {len(windows)} events (seal interval 30 s)\nseal + publish 1,000 events: {seal_1000 * 1000:.0f} ms\n"
        f"audit_verify over {total} events: {verify_s:.1f} s, {len(problems)} problems"
    )


if __name__ == "__main__":
    main()
