"""3. HTTP under load: the production server setup (gunicorn, deploy/gunicorn.conf.py, 2 workers) with
`wrk`, for the search page, the FHIR slot search, FHIR booking (POST Appointment, each request a
different free slot) and a trivial Django view behind the same middleware (the reference)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from . import env
from .b_booking import slots
from .data import World

ROOT = Path(__file__).resolve().parent.parent
P95_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("P95_US %d\\n", latency:percentile(95)))
  io.write(string.format("P50_US %d\\n", latency:percentile(50)))
end
"""


UNCACHED_SCRIPT = """
local i = 0
request = function()
  i = i + 1
  local t = string.format("T%02d%%3A%02d%%3A%02dZ", math.floor(i / 3600) % 24, math.floor(i / 60) % 60, i % 60)
  return wrk.format("GET", "PREFIX" .. t .. "SUFFIX")
end
"""


def start_server(port: int, workers: int = 2) -> subprocess.Popen[bytes]:
    environ = {
        **os.environ,
        **env.VARS,
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESS_LOG": "",
        "GUNICORN_LOG_LEVEL": "warning",
        # No worker recycling during the runs: a recycle in the middle of one halves it (the only change
        # from deploy/gunicorn.conf.py, stated in bench/README.md).
        "GUNICORN_MAX_REQUESTS": "0",
    }
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "config.wsgi"],
        cwd=ROOT,
        env=environ,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/ping", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def rss_mb(pid: int) -> float | None:
    """Resident set size of one process, from /proc (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    """Direct children of a process (gunicorn's workers under its master)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return sorted(out)


def start_task_worker() -> subprocess.Popen[bytes]:
    """The delivery worker as production runs it, next to the web server: it sends the messages the
    bookings of the HTTP part queue, so its resident size is measured under real work."""
    environ = {**os.environ, **env.VARS}
    return subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "notifications_worker", "--skip-checks"],
        cwd=ROOT,
        env=environ,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def wrk(
    url: str, *, seconds: int, connections: int, script: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    # Let the requests of the previous run finish first: a worker still busy when wrk opens its
    # keep-alive connections gets none of them, and the whole run is served by the other worker alone.
    time.sleep(2)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script + P95_SCRIPT)
        path = fh.name
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", path]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    os.unlink(path)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests_per_second": round(rps, 1),
        "requests": total,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
        "p50_ms": round(int(re.search(r"P50_US (\d+)", out).group(1)) / 1000, 2),  # type: ignore[union-attr]
        "p95_ms": round(int(re.search(r"P95_US (\d+)", out).group(1)) / 1000, 2),  # type: ignore[union-attr]
    }


def api_client(w: World) -> tuple[str, str]:
    from creneau.core.actors import Actor
    from creneau.fhir.services import api_client_create, api_grant_create

    app, secret = api_client_create(actor=Actor.system(), name="Banc d'essai")
    api_grant_create(
        actor=Actor.system(),
        client_id=app.client_id,
        organization_id=w.clinic_id,  # type: ignore[attr-defined]
        scope_list=["system/Slot.rs", "system/Patient.rs", "system/Appointment.cruds"],
    )
    return app.client_id, secret  # type: ignore[attr-defined]


def token(port: int, client_id: str, secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/fhir/R4/auth/token",
        data=urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "system/Appointment.cruds"}).encode(),
        headers={"Authorization": f"Basic {basic}"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return str(json.loads(r.read())["access_token"])


def booking_script(w: World, bearer: str, count: int, day: int = 40) -> str:
    from creneau.fhir.ids import slot_id

    bodies = []
    targets = w.booking_ids[17:20]
    per = count // len(targets) + 1
    for p in targets:
        _org, site, motif = w.agenda[p]
        for start in slots(day, per):
            body = {
                "resourceType": "Appointment",
                "status": "booked",
                "slot": [{"reference": f"Slot/{slot_id(motif, site, start)}"}],
                "participant": [
                    {"actor": {"reference": f"Patient/{w.clinic_patients[len(bodies) % 100]}"}, "status": "accepted"}
                ],
            }
            bodies.append(json.dumps(body))
    lua_bodies = ",\n".join("[==[" + b + "]==]" for b in bodies)
    return f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.headers["Accept"] = "application/fhir+json"
wrk.headers["Authorization"] = "Bearer {bearer}"
local bodies = {{ {lua_bodies} }}
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[((i - 1) % #bodies) + 1])
end
"""


def run(w: World, *, seconds: int = 6, connections: int = 32, rounds: int = 3) -> dict[str, Any]:
    from creneau.fhir.mappers.common import SPECIALTY_SYSTEM

    if shutil.which("wrk") is None:
        return {"skipped": "wrk is not installed (apt-get install -y wrk)"}
    port = env.HTTP_PORT
    client_id, secret = api_client(w)
    from django.db import connections as django_connections

    django_connections.close_all()
    proc = start_server(port)
    worker = start_task_worker()
    try:
        base = f"http://127.0.0.1:{port}"
        week = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).strftime("%Y-%m-%d")
        targets = {
            "ping": f"{base}/bench/ping",
            "search_page": f"{base}/?specialty=dermatologie-et-venereologie&where=Lyon",
            "fhir_slot_search": f"{base}/fhir/R4/Slot?specialty={urllib.parse.quote(SPECIALTY_SYSTEM)}%7CSM15"
            f"&start=lt{week}&_count=20",
        }
        out: dict[str, Any] = {
            "server": "gunicorn gthread, 2 workers x 4 threads",
            "wrk": f"1 thread, {connections} connections, {seconds}s",
        }
        for name, url in targets.items():
            with urllib.request.urlopen(url, timeout=30) as r:  # warm-up and sanity check
                assert r.status == 200, (name, r.status)
        # The same search with a different upper bound (one second apart) on every request: the answer
        # cache never hits, so this is the cost of computing a search from the index.
        path = targets["fhir_slot_search"][len(base) :]
        prefix, suffix = path.split(f"start=lt{week}")
        uncached = UNCACHED_SCRIPT.replace("PREFIX", f"{prefix}start=lt{week}").replace("SUFFIX", suffix)
        bearer = token(port, client_id, secret)
        out["rounds"] = rounds
        pings: list[float] = []
        for r in range(rounds):
            runs: list[tuple[str, str, str]] = [
                ("search_page", targets["search_page"], ""),
                ("fhir_slot_search", targets["fhir_slot_search"], ""),
                ("fhir_slot_search_uncached", targets["fhir_slot_search"], uncached),
                # Each round books other days (7 days x 3 agendas: more free slots than a round takes).
                ("fhir_booking", f"{base}/fhir/R4/Appointment", booking_script(w, bearer, 1100, day=40 + 7 * r)),
            ]
            # The trivial view runs before and after every target; a target's reference is the mean of
            # the two runs around it, so what the shared machine gives us at that moment moves both alike.
            pings.append(
                wrk(targets["ping"], seconds=seconds, connections=connections, script="")["requests_per_second"]
            )
            for name, url, script in runs:
                got = wrk(url, seconds=seconds, connections=connections, script=script)
                pings.append(
                    wrk(targets["ping"], seconds=seconds, connections=connections, script="")["requests_per_second"]
                )
                got["ping_around_rps"] = pings[-2:]
                got["ratio_to_ping"] = round(got["requests_per_second"] / (sum(pings[-2:]) / 2), 3)
                out.setdefault(f"{name}_rounds", []).append(got)
        out["pings_rps"] = pings
        # Each target: the round with the median ratio (its figures are printed and judged).
        for name, _url, _script in runs:
            by_ratio = sorted(out[f"{name}_rounds"], key=lambda g: g["ratio_to_ping"])
            out[name] = {**by_ratio[len(by_ratio) // 2], "ratios": [g["ratio_to_ping"] for g in out[f"{name}_rounds"]]}
            out[name]["ping_reference_rps"] = round(sum(out[name]["ping_around_rps"]) / 2, 1)
        # Resident size after every run, web workers (each served all the targets) and the task worker.
        out["memory_mb"] = {
            "web_workers": [rss_mb(pid) for pid in children(proc.pid)],
            "web_master": rss_mb(proc.pid),
            "task_worker": rss_mb(worker.pid) if worker.poll() is None else None,
        }
    finally:
        stop_server(proc)
        stop_server(worker)
    out["ping_reference_rps"] = round(sum(out["pings_rps"]) / len(out["pings_rps"]), 1)
    return out
