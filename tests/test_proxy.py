"""The reverse proxy of deploy/ (nginx, the very rules file production includes) in front of a real
gunicorn: slow-header clients are cut by nginx and never hold gunicorn's threads; oversized bodies,
/metrics and request ids are handled as deploy/README.md says.

nginx comes from Debian's package (`.ci/run` installs it); without it the test is skipped locally and
fails under CI=true."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_RULES = ROOT / "deploy" / "nginx" / "creneau-proxy.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
GUNICORN_THREADS = 2
SLOW_CLIENTS = 12

pytestmark = [
    pytest.mark.sqlite,  # no database involved: once per `make test`
    pytest.mark.skipif(
        not os.path.exists(NGINX) and os.environ.get("CI") != "true",
        reason="nginx not installed (apt-get install nginx; mandatory under CI=true)",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{what} did not start")


def _nginx_conf(tmp: Path, listen: int, upstream: int) -> Path:
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / name).mkdir(exist_ok=True)
    conf = tmp / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"""{user}worker_processes 1;
error_log {tmp}/error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    access_log off;
    limit_conn_zone $binary_remote_addr zone=creneau_addr:10m;
    upstream creneau_app {{ server 127.0.0.1:{upstream}; keepalive 8; keepalive_timeout 4s; }}
    server {{
        listen 127.0.0.1:{listen};
        server_name _;
        include {SHARED_RULES};
    }}
}}
"""
    )
    return conf


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """gunicorn (one process, two threads, the deploy configuration) and nginx in front of it."""
    tmp = tmp_path_factory.mktemp("proxy")
    app_port, proxy_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DATABASE_URL": f"sqlite:///{tmp}/unused.sqlite3",
        "CRENEAU_VAR_DIR": str(tmp),
        "GUNICORN_BIND": f"127.0.0.1:{app_port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": str(GUNICORN_THREADS),
        "LOG_LEVEL": "WARNING",
    }
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    app = subprocess.Popen(
        [gunicorn, "-c", "deploy/gunicorn.conf.py", "config.wsgi"], cwd=ROOT, env=env, start_new_session=True
    )
    conf = _nginx_conf(tmp, proxy_port, app_port)
    proxy = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp), "-g", "daemon off;"], start_new_session=True)
    try:
        _wait_for(app_port, app, "gunicorn")
        _wait_for(proxy_port, proxy, "nginx")
        yield {"app": app_port, "proxy": proxy_port}
    finally:
        for proc in (proxy, app):
            proc.terminate()
        for proc in (proxy, app):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


class SlowClients:
    """Connections sending a request's headers one line every second, never finishing (slowloris)."""

    def __init__(self, port: int, n: int) -> None:
        self.socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]
        self.closed_after: list[float] = []
        self._stop = threading.Event()
        self._started = time.monotonic()
        for sock in self.socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()

    def _drip(self) -> None:
        open_socks = list(self.socks)
        i = 0
        while open_socks and not self._stop.wait(1):
            for sock in list(open_socks):
                try:
                    sock.sendall(f"X-Slow-{i}: a\r\n".encode())
                except OSError:  # the server closed it
                    self.closed_after.append(time.monotonic() - self._started)
                    open_socks.remove(sock)
            i += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self.socks:
            sock.close()


def _timed_get(port: int, path: str = "/healthz", timeout: float = 3) -> tuple[int | str, float]:
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path, headers={"Host": "127.0.0.1"})
        status: int | str = conn.getresponse().status
    except OSError as exc:
        status = type(exc).__name__
    return status, time.monotonic() - started


def test_slow_header_clients_hold_gunicorn_directly_but_not_through_the_proxy(front: dict[str, int]) -> None:
    # Without the proxy: a few slow clients take both gunicorn threads and everyone else waits.
    direct = SlowClients(front["app"], SLOW_CLIENTS)
    try:
        time.sleep(1.5)
        status, _ = _timed_get(front["app"], timeout=3)
        assert status != 200, "gunicorn alone served a request while slow clients held its threads"
    finally:
        direct.close()
    time.sleep(1)
    # Through the proxy: the same slow clients, and other clients are served at once.
    slow = SlowClients(front["proxy"], SLOW_CLIENTS)
    try:
        time.sleep(1.5)
        results = [_timed_get(front["proxy"]) for _ in range(10)]
        assert [s for s, _ in results] == [200] * 10
        assert max(t for _, t in results) < 2, results
        # nginx drops each of them once its header deadline (10 s) passes.
        deadline = time.monotonic() + 20
        while len(slow.closed_after) < SLOW_CLIENTS and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(slow.closed_after) == SLOW_CLIENTS
        assert min(slow.closed_after) >= 9 and max(slow.closed_after) < 16, slow.closed_after
    finally:
        slow.close()


def test_an_oversized_body_is_refused_by_the_proxy_before_gunicorn_reads_it(front: dict[str, int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", front["proxy"], timeout=10)
    body = b"x" * (1024 * 1024 + 1)
    conn.request("POST", "/fhir/Patient", body=body, headers={"Host": "127.0.0.1", "Content-Type": "application/json"})
    assert conn.getresponse().status == 413


def test_metrics_are_never_forwarded_and_each_request_gets_an_id(front: dict[str, int]) -> None:
    assert _timed_get(front["proxy"], "/metrics")[0] == 404
    ids = set()
    for _ in range(2):
        conn = http.client.HTTPConnection("127.0.0.1", front["proxy"], timeout=5)
        conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
        response = conn.getresponse()
        assert response.status == 200
        request_id = response.getheader("X-Request-ID", "")
        assert len(request_id) == 32 and int(request_id, 16) >= 0  # nginx's $request_id, kept by the app
        ids.add(request_id)
    assert len(ids) == 2


def test_the_shipped_configurations_pass_nginx_syntax_checks(tmp_path: Path) -> None:
    conf = _nginx_conf(tmp_path, _free_port(), _free_port())
    result = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
