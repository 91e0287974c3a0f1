"""deploy/ as an operator meets it, checked without Docker (CI has no Docker engine): the image is
multi-stage, runtime-only, unprivileged and health-checked (and hadolint-clean); compose starts PostgreSQL,
Redis, the web processes, workers and the reverse proxy, publishing only the proxy; the proxy never
forwards /metrics; the Grafana dashboard asks only for metrics the application exposes."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def stages(dockerfile: str) -> list[list[str]]:
    """Instructions (comments dropped, continuations joined) grouped by FROM."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    groups: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            groups.append([])
        if groups:
            groups[-1].append(line)
    return groups


def test_the_image_is_multi_stage_runtime_only_unprivileged_and_health_checked() -> None:
    build, final = stages((DEPLOY / "Dockerfile").read_text())[-2:]
    assert any(line.startswith("COPY requirements/runtime.txt") for line in build)
    assert any("pip install --require-hashes" in line for line in build)
    assert not any("pip install" in line or "apt-get" in line for line in final)  # nothing installed there
    assert any(line.startswith("COPY --from=build /opt/venv") for line in final)
    user = [line.split()[1] for line in final if line.startswith("USER ")]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK") and "healthcheck.py" in line for line in final)


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "info", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_starts_every_part_and_publishes_only_the_proxy() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "scheduler", "proxy"} <= services.keys()
    assert [name for name, s in services.items() if s.get("ports")] == ["proxy"]
    for name in ("migrate", "web", "worker", "scheduler"):
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert services[name]["env_file"] == "creneau.env"
    for name in ("web", "worker", "scheduler"):
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"
        assert deps["migrate"]["condition"] == "service_completed_successfully"
    assert services["web"]["environment"]["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    assert "healthcheck" not in services["web"]  # the image's own, on /healthz
    assert services["worker"]["healthcheck"] == {"disable": True}
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"
    mounted = {volume.split(":")[0] for volume in services["proxy"]["volumes"]}
    assert "./nginx.conf" in mounted and (DEPLOY / "nginx.conf").exists()


def test_compose_and_systemd_proxies_share_one_set_of_rules() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = dict(v.split(":")[:2] for v in compose["services"]["proxy"]["volumes"])
    shared = mounts["./nginx/creneau-proxy.conf"]
    assert f"include {shared};" in (DEPLOY / "nginx.conf").read_text()
    assert "include /srv/creneau/deploy/nginx/creneau-proxy.conf;" in (DEPLOY / "nginx" / "creneau.conf").read_text()
    # The static files are where the shared rules look for them, in both.
    assert "alias /srv/creneau/var/static/;" in (DEPLOY / "nginx" / "creneau-proxy.conf").read_text()
    assert mounts["static"] == "/srv/creneau/var/static"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_health_check_fails_when_nothing_answers() -> None:
    env = {"GUNICORN_BIND": f"127.0.0.1:{_free_port()}", "ALLOWED_HOSTS": "rdv.example.fr", "PATH": ""}
    result = subprocess.run([sys.executable, str(DEPLOY / "healthcheck.py")], env=env, timeout=30)
    assert result.returncode == 1


@pytest.mark.django_db
def test_the_grafana_dashboard_asks_only_for_exposed_metrics(client: Client, settings: object) -> None:
    settings.CRENEAU_METRICS_TOKEN = "t" * 40  # type: ignore[attr-defined]
    assert client.get("/").status_code in (200, 400)  # one request, so the latency series exist
    text = client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 40}).content.decode()
    exposed: set[str] = set()
    for family in text_string_to_metric_families(text):
        exposed |= {sample.name for sample in family.samples}
        exposed.add(family.name + ("_total" if family.type == "counter" else ""))
    dashboard = json.loads((DEPLOY / "grafana" / "creneau.json").read_text())
    wanted = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bcreneau_[a-z_]+\b", target["expr"])
    }
    assert len(wanted) >= 12
    assert sorted(wanted - exposed) == []
    for panel in dashboard["panels"]:
        assert all(not re.search(r"(patient|email|name|phone|principal)=", t["expr"]) for t in panel["targets"])


def test_prometheus_scrapes_with_the_token_from_a_file() -> None:
    conf = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    job = conf["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer" and "credentials_file" in job["authorization"]


def test_compose_runs_the_application_as_the_runtime_role_and_migrates_as_the_owner() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    for name in ("web", "worker", "scheduler"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://creneau_app:")
        assert "DATABASE_OWNER_URL" not in env, f"{name} must not know the owner's password"
    assert services["migrate"]["environment"]["DATABASE_OWNER_URL"].startswith("postgresql://creneau_owner:")
    # The roles are created on the database's first start, by the script the systemd route uses too.
    mounts = dict(volume.split(":")[:2] for volume in services["postgres"]["volumes"] if volume.startswith("./"))
    assert mounts["./postgres-init.sh"].startswith("/docker-entrypoint-initdb.d/")
    assert mounts["./postgres-roles.sql"] == "/docker-entrypoint-initdb.d/postgres-roles.sql.in"
    assert "postgres-roles.sql.in" in (DEPLOY / "postgres-init.sh").read_text()
    assert services["postgres"]["environment"]["POSTGRES_USER"] == "postgres"
