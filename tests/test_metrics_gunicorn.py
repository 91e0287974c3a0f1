"""Production's process model: gunicorn with two single-threaded workers and deploy/gunicorn.conf.py. Whichever
worker answers the scrape, /metrics counts every request both workers served (PROMETHEUS_MULTIPROC_DIR),
and the server's own log lines are JSON."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "gunicorn-metrics-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Connection": "close", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode()


def test_counts_from_every_worker_are_summed(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "CRENEAU_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "CRENEAU_METRICS_TOKEN": TOKEN,
    }
    log = (tmp_path / "gunicorn.log").open("w")
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [str(gunicorn), "-c", "deploy/gunicorn.conf.py", "config.wsgi"], cwd=ROOT, env=env, stderr=log, stdout=log
    )
    try:
        for _ in range(120):
            try:
                if _get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(lambda _: _get(f"http://127.0.0.1:{port}/healthz")[0], range(40)))
        assert codes == [200] * 40
        served_by = {p.name.split("_")[1] for p in (tmp_path / "metrics").glob("counter_*.db")}
        assert len(served_by) == 2  # both workers answered some of them
        _status, text = _get(f"http://127.0.0.1:{port}/metrics", {"Authorization": f"Bearer {TOKEN}"})
        counted = {
            tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "creneau_http_responses_total"
        }
        assert counted[(("method", "GET"), ("route", "healthz"), ("status", "200"))] == 41
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    lines = [line for line in (tmp_path / "gunicorn.log").read_text().splitlines() if line.strip()]
    assert lines and all(json.loads(line)["level"] for line in lines)
    assert not any("/healthz" in line for line in lines)  # no access log with paths
