"""Create the PostgreSQL roles `make test` runs as, idempotently, and print the URLs to use.

`python scripts/pg_test_roles.py postgresql://postgres@127.0.0.1:5432/creneau` connects as that
(super)user and makes sure of:
- `creneau_test_owner`: LOGIN CREATEDB, owns the test databases and every table (migrations run as it);
- `creneau_test_app`: LOGIN only, the runtime role the tests run as (INSERT and SELECT on the audit
  tables, granted by `manage.py migrate`);
- the database named in the URL, owned by the owner role (production-settings subprocesses connect to it);
- earlier test databases of this checkout (CRENEAU_TEST_DB, with xdist suffixes) owned by the owner role,
  so that it may drop them.
Then prints `DATABASE_URL=… DATABASE_OWNER_URL=… CRENEAU_PG_SUPERUSER_URL=…` for `env`.
Several checkouts may run it at once: every step tolerates another having done it."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import urllib.parse

import psycopg
from psycopg import sql

OWNER, APP = "creneau_test_owner", "creneau_test_app"


def with_user(url: str, user: str, dbname: str | None = None, password: str = "") -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}{':' + password if password else ''}@{host}" + (f":{parts.port}" if parts.port else "")
    path = f"/{dbname}" if dbname is not None else parts.path
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, parts.query, ""))


def ensure_role(cur: psycopg.Cursor, name: str, *, createdb: bool) -> None:
    """The role, able to log in, never superuser, with its name as password (test roles: the password only
    lets them log in where the server does not trust local connections). Altered only when something is
    off, since two checkouts altering one role at once may fail."""
    attributes = sql.SQL("LOGIN NOSUPERUSER NOCREATEROLE " + ("CREATEDB" if createdb else "NOCREATEDB"))
    cur.execute(
        sql.SQL(
            "DO $$ BEGIN CREATE ROLE {} {} PASSWORD {}; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ).format(sql.Identifier(name), attributes, sql.Literal(name))
    )
    cur.execute(
        "SELECT rolcanlogin AND NOT rolsuper AND rolcreatedb = %s AND rolpassword IS NOT NULL"
        " FROM pg_authid WHERE rolname = %s",
        [createdb, name],
    )
    if not cur.fetchone()[0]:
        cur.execute(sql.SQL("ALTER ROLE {} {} PASSWORD {}").format(sql.Identifier(name), attributes, sql.Literal(name)))


def main(url: str) -> None:
    dbname = urllib.parse.urlsplit(url).path.lstrip("/") or "creneau"
    test_db = os.environ.get("CRENEAU_TEST_DB", "test_creneau")
    with psycopg.connect(with_user(url, urllib.parse.urlsplit(url).username or "postgres", "postgres"),
                         autocommit=True, connect_timeout=5) as conn, conn.cursor() as cur:  # fmt: skip
        ensure_role(cur, OWNER, createdb=True)
        ensure_role(cur, APP, createdb=False)
        cur.execute("SELECT datname, pg_get_userbyid(datdba) FROM pg_database")
        existing = dict(cur.fetchall())
        if dbname not in existing:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(OWNER))
                )
        mine = re.compile(rf"^{re.escape(test_db)}(_gw\d+)?$")
        for name, owner in existing.items():
            if mine.match(name) and owner != OWNER:
                cur.execute(
                    sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(OWNER))
                )
    print(
        f"DATABASE_URL={with_user(url, APP, dbname, APP)} DATABASE_OWNER_URL={with_user(url, OWNER, dbname, OWNER)} "
        f"CRENEAU_PG_SUPERUSER_URL={url}"
    )


if __name__ == "__main__":
    main(sys.argv[1])
