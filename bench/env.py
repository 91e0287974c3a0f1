"""The benchmark's environment: its own PostgreSQL database and Redis db, production settings.

Import this before Django. Every value can be overridden from the environment."""

from __future__ import annotations

import base64
import hashlib
import os

PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB_NAME", "creneau_bench")
DATABASE_URL = f"{PG_SERVER}/{DB_NAME}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
HTTP_PORT = int(os.environ.get("BENCH_HTTP_PORT", "8011"))


def _key(label: str) -> str:
    # Fixed, non-development keys: the data is rebuilt each run, nothing real is protected by them.
    return base64.b64encode(hashlib.sha256(f"creneau bench {label}".encode()).digest()).decode()


VARS = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "DJANGO_SECRET_KEY": _key("secret"),
    "CRENEAU_FIELD_KEYS": f"bench1:{_key('field')}",
    "CRENEAU_BLIND_INDEX_KEY": _key("blind"),
    "CRENEAU_AUDIT_SIGNING_KEY": _key("audit"),
    "CRENEAU_AUDIT_SEAL_KEYS": f"bench1:{_key('audit seal')}",
    "SECURE_SSL_REDIRECT": "0",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DB_POOL_MAX": os.environ.get("DB_POOL_MAX", "4"),
    "CRENEAU_VAR_DIR": os.environ.get("CRENEAU_VAR_DIR", os.path.join(os.getcwd(), "var", "bench")),
}


def apply() -> None:
    for k, v in VARS.items():
        os.environ[k] = v  # the benchmark's settings win over a developer's shell


def setup() -> None:
    apply()
    import django

    django.setup()
