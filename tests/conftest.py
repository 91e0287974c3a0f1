"""Shared fixtures. The clock is frozen on a known Monday morning so that slot tests are exact."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.servers import basehttp
from django.db import connection

from creneau.core import clock

from . import factories as f
from .personas import World

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")

# The live test server accepts bursts of 200 simultaneous connections (abuse-limit races) instead of
# resetting those past Django's listen backlog of 10.
basehttp.WSGIServer.request_queue_size = 512


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CRENEAU_REQUIRE_POSTGRES") and not ON_POSTGRES:
        raise pytest.UsageError("CRENEAU_REQUIRE_POSTGRES is set but DATABASE_URL is not PostgreSQL")
    for item in items:
        if "postgres" in item.keywords and not ON_POSTGRES:
            item.add_marker(pytest.mark.skip(reason="runs in the PostgreSQL pass of `make test`"))
        if "sqlite" in item.keywords and ON_POSTGRES:
            item.add_marker(pytest.mark.skip(reason="runs in the SQLite pass of `make test`"))
        # Redis tests run wherever Redis answers; under CI=true they run regardless, so a missing Redis fails.
        if "redis" in item.keywords and os.environ.get("CI") != "true" and not _redis_reachable():
            item.add_marker(
                pytest.mark.skip(reason=f"Redis not reachable at {REDIS_TEST_URL} (mandatory under CI=true)")
            )


REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


def _redis_reachable() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """PostgreSQL pass: the test databases are created and migrated by the owner role."""
    from . import pg_roles

    if pg_roles.split_roles():
        pg_roles.login_as("DATABASE_OWNER_URL")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: object) -> Iterator[None]:
    """…then the tests run as the runtime role, and the owner drops the databases at the end."""
    from . import pg_roles

    if not pg_roles.split_roles():
        yield
        return
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        pg_roles.login_as("DATABASE_URL")
    yield
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        pg_roles.login_as("DATABASE_OWNER_URL")


@pytest.fixture
def migrations_as_owner(transactional_db: None) -> Iterator[None]:
    """A test that runs migrations itself does so as the owner role (PostgreSQL pass), which grants the
    runtime role its rights again afterwards, as `manage.py migrate` does."""
    from django.conf import settings

    from creneau.audit import dbroles

    from . import pg_roles

    if not pg_roles.split_roles():
        yield
        return
    with dbroles.as_owner() as conn:
        try:
            yield
        finally:
            dbroles.grant_runtime(conn, settings.CRENEAU_DB_RUNTIME_ROLE)


_ANCHOR_DIR = tempfile.mkdtemp(prefix="creneau-anchors-")


@pytest.fixture(autouse=True)
def _fresh_audit_anchor(settings: Any) -> Path:
    """Each test publishes audit chain heads to a file of its own: a head another test published (its
    rows rolled back since) would read as a truncated trail."""
    path = Path(_ANCHOR_DIR) / f"{uuid.uuid4().hex}.log"
    settings.CRENEAU_AUDIT_CHECKPOINT_FILE = str(path)
    sink = {"BACKEND": "creneau.audit.anchors.FileSink", "OPTIONS": {"path": str(path)}}
    settings.CRENEAU_AUDIT_ANCHOR_SINKS = [sink]
    return path


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in the site's default language (French), as a fresh request does: a request served
    in English by an earlier test leaves English active in its thread, and messages rendered outside a
    request (services, e-mails, the worker) would then come out in English."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Rate-limit counters and lockouts live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def monday_morning() -> Iterator[None]:
    """2026-03-02 is a Monday; 07:00 in Paris."""
    with clock.frozen_at(f.paris(2026, 3, 2, 7, 0)):
        yield


@pytest.fixture
def world(db: None, monday_morning: None) -> World:
    """A dermatologist open every day 09:00–12:00 at one site of one organization, a 30-minute motif,
    a patient account, a secretary of that organization with a patient it created by phone (caller),
    and an outsider secretary of another organization."""
    org = f.organization("Cabinet Lumière")
    s = f.site(org)
    doc = f.practitioner(s)
    f.every_day(doc, s)
    m = f.motif(doc, minutes=30)
    user, patient, actor = f.patient_account()
    other_org = f.organization("Autre Cabinet")
    secretary = f.staff(org)
    from creneau.patients.services import patient_create_for_organization

    caller = patient_create_for_organization(
        actor=secretary,
        organization_id=org.pk,
        family_name="Appelant",
        given_name="Paul",
        birth_date=dt.date(1970, 1, 1),
        phone="+33639980002",
    )
    return World(
        org=org,
        site=s,
        doc=doc,
        agenda=f.agenda(doc),
        motif=m,
        user=user,
        patient=patient,
        patient_actor=actor,
        secretary=secretary,
        caller=caller,
        outsider=f.staff(other_org),
        other_org=other_org,
    )


@pytest.fixture
def client() -> Any:
    """pytest-django's `client`, checking every FHIR answer against the HL7 R4 schema (tests/fhir_validator)."""
    from .fhir_validator.client import FhirCheckingClient

    return FhirCheckingClient()


@pytest.fixture
def vendor() -> str:
    return connection.vendor
