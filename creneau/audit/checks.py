"""System checks for the audit trail. Stable ids: creneau.E201–E204, creneau.W205, creneau.W206.

In production (CRENEAU_REQUIRE_REAL_KEYS) the server refuses to start when its keys are the public
development ones, or when the database role it runs as could rewrite the trail unnoticed by the database
itself (a superuser, the owner of an audit table, or a role allowed to update, delete or truncate one)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection

from . import envkeys

APPEND_ONLY_TABLES = ("audit_auditevent", "audit_auditaccess", "audit_auditseal", "audit_auditcheckpoint")


@register("security")
def audit_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Seal keys and the head-signing key: real ones in production, valid everywhere."""
    from . import keys

    errors: list[CheckMessage] = []
    if settings.CRENEAU_REQUIRE_REAL_KEYS:
        dev = {m for _, m in envkeys.DEV_SEAL_KEYS} | {envkeys.DEV_SIGNING_KEY}
        seal = list(settings.CRENEAU_AUDIT_SEAL_KEYS or [])
        if not seal or any(m in dev for _, m in seal) or settings.CRENEAU_AUDIT_SIGNING_KEY in ("", *dev):
            errors.append(
                Error(
                    "The audit trail's keys are missing or are the public development keys.",
                    hint="Set CRENEAU_AUDIT_SEAL_KEYS (kid:base64-32-bytes) and CRENEAU_AUDIT_SIGNING_KEY "
                    "(base64 of 32 random bytes, an Ed25519 key), kept outside the database (docs/audit.md).",
                    id="creneau.E201",
                )
            )
    try:
        keys.seal_keys()
        keys.trusted_public_keys()
    except ImproperlyConfigured as exc:
        errors.append(Error(f"The audit trail's keys are invalid: {exc}", id="creneau.E201"))
    return errors


@register("security")
def audit_anchor_off_host(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Production publishes chain heads somewhere the database host cannot rewrite."""
    backends = [str(s["BACKEND"]) for s in settings.CRENEAU_AUDIT_ANCHOR_SINKS]
    if settings.CRENEAU_REQUIRE_REAL_KEYS and all(b.endswith(".FileSink") for b in backends):
        return [
            Warning(
                "Audit chain heads are only published to local files.",
                hint="Set CRENEAU_AUDIT_ANCHOR_URL to an append-only log on another machine "
                "(deploy/anchor_log_server.py), so a truncated or rewritten trail is detected even when "
                "this machine's files are gone.",
                id="creneau.W205",
            )
        ]
    return []


def runtime_role_problems(role: str) -> list[str]:
    """What the runtime role may do that it must not, as 'E20x:message'. PostgreSQL only."""
    found: list[str] = []
    with connection.cursor() as cur:
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
        row = cur.fetchone()
        if row and row[0]:
            found.append(f"E202:the runtime database role {role!r} is a superuser")
        cur.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner) = %s,"
            " has_table_privilege(%s, c.oid, 'UPDATE') OR has_table_privilege(%s, c.oid, 'DELETE')"
            " OR has_table_privilege(%s, c.oid, 'TRUNCATE')"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relname = ANY(%s)",
            [role, role, role, role, list(APPEND_ONLY_TABLES)],
        )
        for table, owns, rewrites in cur.fetchall():
            if owns:
                found.append(f"E203:the runtime database role {role!r} owns {table}")
            elif rewrites:
                found.append(f"E204:the runtime database role {role!r} may update, delete or truncate {table}")
    return found


@register("security")
def audit_runtime_role(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Production refuses to run as a database role that could rewrite the audit trail."""
    if not settings.CRENEAU_REQUIRE_REAL_KEYS or connection.vendor != "postgresql":
        return []
    role = settings.CRENEAU_DB_RUNTIME_ROLE
    try:
        if not role:
            with connection.cursor() as cur:
                cur.execute("SELECT session_user")
                role = str(cur.fetchone()[0])
        found = runtime_role_problems(role)
    except DatabaseError as exc:
        return [
            Warning(
                f"Could not check the runtime database role's rights ({type(exc).__name__}).",
                hint="The database must be reachable; checked again at the next start.",
                id="creneau.W206",
            )
        ]
    hint = (
        "Run the application as a role with INSERT and SELECT only on the audit tables, and migrations as "
        "the owner (DATABASE_OWNER_URL); deploy/postgres-roles.sql creates both."
    )
    return [Error(msg, hint=hint, id=f"creneau.{code}") for code, msg in (f.split(":", 1) for f in found)]
