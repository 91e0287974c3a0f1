"""PostgreSQL backend of the test suite's PostgreSQL pass: Django's, except for the flush between
transactional tests. The runtime role the tests run as may not truncate the audit tables, and their
BEFORE TRUNCATE triggers refuse everyone; the flush is therefore run by the owner role, which switches
those triggers off for its own transaction (what an owner could do in production too; the published
heads are what reveal it there)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.backends.postgresql import operations

from creneau.audit.checks import APPEND_ONLY_TABLES
from creneau.core.pg import base


class DatabaseOperations(operations.DatabaseOperations):
    def execute_sql_flush(self, sql_list: Iterable[str]) -> None:
        from tests.pg_roles import as_owner

        with as_owner() as conn, conn.transaction(), conn.cursor() as cur:
            present = {
                r[0] for r in cur.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'audit_%_no_truncate'")
            }
            toggled = [t for t in APPEND_ONLY_TABLES if f"{t}_no_truncate" in present]
            for table in toggled:
                cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_truncate")
            for statement in sql_list:
                cur.execute(statement)
            for table in toggled:
                cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_no_truncate")


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
