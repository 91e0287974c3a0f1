"""sqlmap (the real tool, from PyPI) against a running server: the search, sign-in, booking and staff
patient-search endpoints must show nothing injectable. Bounded: boolean, error, union and stacked
techniques at level 1 / risk 1, one thread, short timeouts, and a hard time cap per target."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from creneau.core import clock
from creneau.core.ratelimit import DEFAULTS

from . import factories as f

pytestmark = pytest.mark.django_db(transaction=True)
SQLMAP = Path(sys.executable).parent / "sqlmap"
CAP_SECONDS = 150
NOT_INJECTABLE = "do not appear to be injectable"
# A fixed CSRF secret sent as cookie and form field (Django accepts the unmasked secret): sqlmap then
# exercises the view itself instead of bouncing off the CSRF check.
CSRF = "sqlmapcsrfsecret0123456789abcdef"


def session_cookie(user: object) -> str:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}; {CSRF_COOKIE}"


CSRF_COOKIE = f"{settings.CSRF_COOKIE_NAME}={CSRF}"


def sqlmap(tmp_path: Path, url: str, *args: str) -> str:
    dbms = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
    cmd = [str(SQLMAP), "-u", url, "--batch", "--dbms", dbms, "--technique", "BEUS", "--level", "1", "--risk", "1"]
    cmd += ["--threads", "1", "--timeout", "10", "--retries", "0", "--flush-session", "--disable-coloring"]
    cmd += ["--output-dir", str(tmp_path / "sqlmap"), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=CAP_SECONDS, stdin=subprocess.DEVNULL)
    (tmp_path / "sqlmap.log").write_text(out.stdout + out.stderr)
    return out.stdout


def assert_clean(output: str) -> None:
    assert "testing connection to the target URL" in output, output[-2000:]
    # sqlmap's verdict, after its own false-positive checks (intermediate "appears to be" lines may be retracted).
    assert not re.search(r"parameter '[^']+' is vulnerable", output), output[-4000:]
    assert "sqlmap identified the following injection point" not in output
    forbidden = re.search(r"403 \(Forbidden\) - (\d+) times", output)
    assert not forbidden or int(forbidden.group(1)) < 5, "requests bounced off CSRF: the view was not tested"
    assert NOT_INJECTABLE in output, output[-4000:]
    assert "500 (Internal Server Error)" not in output, "malformed input must get a 4xx, never a 500"


@pytest.fixture
def target(live_server: object) -> dict[str, object]:
    f.ensure_specialties()
    org = f.organization("Cabinet Sqlmap")
    site = f.site(org)
    doc = f.practitioner(site, specialty="SM15")
    f.every_day(doc, site)
    motif = f.motif(doc, minutes=30)
    user, patient, _actor = f.patient_account()
    staff = f.staff(org).user
    start = (clock.now().astimezone(f.PARIS) + dt.timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    return {
        "url": live_server.url,  # type: ignore[attr-defined]
        "doc": doc,
        "site": site,
        "motif": motif,
        "patient": patient,
        "patient_cookie": session_cookie(user),
        "staff_cookie": session_cookie(staff),
        "start": start.isoformat(),
    }


@pytest.fixture(autouse=True)
def generous_limits() -> object:
    # sqlmap sends hundreds of requests: lift the limits so that it tests the queries, not the throttle.
    with override_settings(CRENEAU_RATE_LIMITS={name: (100_000, 60) for name in DEFAULTS}):
        yield


def test_search_is_not_injectable(target: dict, tmp_path: Path) -> None:
    assert_clean(sqlmap(tmp_path, f"{target['url']}/?specialty=dermatologie&where=Lyon", "-p", "specialty,where"))


def test_sign_in_is_not_injectable(target: dict, tmp_path: Path) -> None:
    login = f"{target['url']}{reverse('accounts:login')}"
    output = sqlmap(
        tmp_path,
        login,
        "--data",
        f"csrfmiddlewaretoken={CSRF}&username=someone%40example.invalid&password=secret",
        "-p",
        "username,password",
        "--cookie",
        CSRF_COOKIE,
    )
    assert_clean(output)


def test_booking_is_not_injectable(target: dict, tmp_path: Path) -> None:
    data = (
        f"csrfmiddlewaretoken={CSRF}&practitioner={target['doc'].pk}&motif={target['motif'].pk}"
        f"&site={target['site'].pk}&start={target['start']}"
    )
    output = sqlmap(
        tmp_path,
        f"{target['url']}{reverse('web:book_hold')}",
        "--data",
        data,
        "-p",
        "practitioner,motif,site,start",
        "--cookie",
        target["patient_cookie"],
    )
    assert_clean(output)


def test_staff_patient_search_is_not_injectable(target: dict, tmp_path: Path) -> None:
    slot = f"motif={target['motif'].pk}&site={target['site'].pk}&start={target['start']}"
    book = f"{target['url']}{reverse('web:staff_book', args=[f.agenda(target['doc']).pk])}"
    output = sqlmap(
        tmp_path,
        book,
        "--data",
        f"csrfmiddlewaretoken={CSRF}&{slot}&action=search&s-name=Patiente&s-birth_date=1985-03-14&s-phone=0639980001",
        "-p",
        "s-name,s-birth_date,s-phone",
        "--cookie",
        target["staff_cookie"],
    )
    assert_clean(output)
