"""HTTP hardening: strict CSP without inline code, production cookies and HSTS, a clean deploy check, and
the lint rule against SQL built from strings stays on."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent


def prod_env() -> dict[str, str]:
    key = lambda: base64.b64encode(os.urandom(32)).decode()  # noqa: E731
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}  # set by the e2e conftest
    return {
        **env,
        "DJANGO_SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
        "CRENEAU_FIELD_KEYS": f"k1:{key()}",
        "CRENEAU_BLIND_INDEX_KEY": key(),
        "CRENEAU_AUDIT_SIGNING_KEY": key(),
        "CRENEAU_AUDIT_SEAL_KEYS": f"s1:{key()}",
        "ALLOWED_HOSTS": "creneau.example",
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["web:home", "accounts:login", "accounts:signup"])
def test_pages_carry_a_strict_csp_and_no_inline_code(client: object, name: str) -> None:
    response = client.get(reverse(name))  # type: ignore[attr-defined]
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    html = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script> would be blocked by the CSP"
    assert " style=" not in html and "<style" not in html and not re.search(r"\son[a-z]+=", html)


def test_production_settings_use_host_prefixed_secure_cookies_and_hsts() -> None:
    code = (
        "import django;django.setup();from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS >= 31536000, s.SECURE_SSL_REDIRECT, s.CRENEAU_REQUIRE_REAL_KEYS)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=prod_env(), cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == ["__Host-sessionid", "__Host-csrftoken", "True", "True", "True", "True", "True"]


def test_the_deploy_check_passes_with_production_settings_and_keys() -> None:
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        env=prod_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "security.W" not in out.stdout + out.stderr and "creneau.E" not in out.stdout + out.stderr


def test_production_without_keys_refuses_to_start() -> None:
    env = prod_env()
    del env["CRENEAU_FIELD_KEYS"], env["CRENEAU_BLIND_INDEX_KEY"]
    out = subprocess.run([sys.executable, "manage.py", "check"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0 and "creneau.E101" in out.stderr


def test_staff_sessions_time_out_sooner_than_patient_sessions() -> None:
    assert settings.CRENEAU_STAFF_IDLE_SECONDS <= 30 * 60 < settings.SESSION_COOKIE_AGE


def test_sql_built_from_strings_fails_the_lint(tmp_path: Path) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "S" in config["select"] and "S608" not in config.get("ignore", [])
    assert all(
        "S608" not in rules and "S" not in rules
        for glob, rules in config["per-file-ignores"].items()
        if "creneau" in glob
    )
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def q(cursor, name):\n    cursor.execute(f\"SELECT * FROM patients_patient WHERE city = '{name}'\")\n"
    )
    ruff = Path(sys.executable).parent / "ruff"
    out = subprocess.run(
        [str(ruff), "check", "--no-cache", "--select", "S608", str(bad)], capture_output=True, text=True
    )
    assert out.returncode == 1 and "S608" in out.stdout
