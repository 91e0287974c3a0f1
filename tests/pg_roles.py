"""The PostgreSQL pass runs as the application would: as a runtime role with INSERT and SELECT only on
the audit tables. Test databases are created and migrated by the owner role (DATABASE_OWNER_URL); attack
scenarios use the owner or the superuser (CRENEAU_PG_SUPERUSER_URL) through connections of their own.
`make test-postgres` sets the three URLs (scripts/pg_test_roles.py)."""

from __future__ import annotations

import os

import dj_database_url
import psycopg
from django.db import connection

_CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")


def split_roles() -> bool:
    return connection.vendor == "postgresql" and bool(os.environ.get("DATABASE_OWNER_URL"))


def _credentials(env: str) -> dict[str, object]:
    parsed = dj_database_url.parse(os.environ[env])
    return {k: parsed.get(k) for k in _CREDENTIALS}


def login_as(env: str) -> None:
    """Point the default connection at the role of URL `env` (same database), reconnecting."""
    connection.close()
    close_pool = getattr(connection, "close_pool", None)
    if close_pool is not None:
        close_pool()
    connection.settings_dict.update(_credentials(env))


def connect(env: str) -> psycopg.Connection:
    """A separate autocommit connection to the test database as the role of URL `env`."""
    c = _credentials(env)
    return psycopg.connect(
        dbname=str(connection.settings_dict["NAME"]),
        user=str(c["USER"] or ""),
        password=str(c["PASSWORD"] or "") or None,
        host=str(c["HOST"] or "127.0.0.1"),
        port=int(str(c["PORT"] or 5432)),
        autocommit=True,
    )


def as_owner() -> psycopg.Connection:
    return connect("DATABASE_OWNER_URL")


def as_superuser() -> psycopg.Connection:
    return connect("CRENEAU_PG_SUPERUSER_URL")
