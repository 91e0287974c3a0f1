"""Least privilege in PostgreSQL: migrations as the owner role, the application as a runtime role.

The owner (DATABASE_OWNER_URL) owns every table, so only it may alter them, drop or disable their
triggers. The runtime role (DATABASE_URL) gets ordinary rights on the ordinary tables and only INSERT and
SELECT on the audit trail's tables: it cannot update, delete or truncate a row, nor touch a trigger.
`manage.py migrate` connects as the owner when DATABASE_OWNER_URL is set and grants these rights after
every migration, so new tables are covered."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from .checks import APPEND_ONLY_TABLES

_CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")


def owner_configured(alias: str = "default") -> bool:
    return alias == "default" and bool(settings.DATABASE_OWNER) and connections[alias].vendor == "postgresql"


def _reconnect(conn: BaseDatabaseWrapper) -> None:
    conn.close()
    close_pool = getattr(conn, "close_pool", None)
    if close_pool is not None:
        close_pool()


@contextlib.contextmanager
def as_owner(alias: str = "default") -> Iterator[BaseDatabaseWrapper]:
    """The connection `alias`, logged in as the owner role for the duration (same database)."""
    conn = connections[alias]
    saved = {k: conn.settings_dict.get(k) for k in _CREDENTIALS}
    owner = settings.DATABASE_OWNER
    _reconnect(conn)
    for k in _CREDENTIALS:
        if owner.get(k):
            conn.settings_dict[k] = owner[k]
    try:
        yield conn
    finally:
        _reconnect(conn)
        conn.settings_dict.update(saved)


def grant_runtime(conn: BaseDatabaseWrapper, role: str) -> None:
    """Give `role` its rights on every table and sequence of the current schema (run as the owner)."""
    qn = conn.ops.quote_name
    with conn.cursor() as cur:
        cur.execute("SELECT current_schema()")
        schema = qn(cur.fetchone()[0])
        r = qn(role)
        cur.execute(f"GRANT USAGE ON SCHEMA {schema} TO {r}")
        cur.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {r}")
        cur.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {r}")
        cur.execute(f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {schema} FROM {r}")
        cur.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relname = ANY(%s)",
            [list(APPEND_ONLY_TABLES)],
        )
        for (table,) in cur.fetchall():
            cur.execute(f"REVOKE ALL ON {qn(table)} FROM {r}")
            cur.execute(f"GRANT SELECT, INSERT ON {qn(table)} TO {r}")
