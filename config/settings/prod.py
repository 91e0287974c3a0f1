"""Production: PostgreSQL via DATABASE_URL, Redis via REDIS_URL, secrets from the environment."""

import os

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
SECURE_SSL_REDIRECT = os.environ.get("SECURE_SSL_REDIRECT", "1") == "1"
# Probes and Prometheus talk plain HTTP to the processes on the internal network (deploy/).
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
SECURE_HSTS_SECONDS = 63072000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
MAILERS = {"default": {"BACKEND": os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")}}

# --- Security (docs/decisions/0003, 0004) --------------------------------------------------------------
from creneau.core.crypto import envkeys as _envkeys  # noqa: E402

# Real keys only: no development fallback. Missing keys stop the server (system check creneau.E101).
CRENEAU_FIELD_KEYS = _envkeys.field_keys_from_env()
CRENEAU_BLIND_INDEX_KEY = _envkeys.secret_from_env("CRENEAU_BLIND_INDEX_KEY")
CRENEAU_REQUIRE_REAL_KEYS = True
SECURE_HSTS_PRELOAD = True
# `__Host-` cookies: Secure, path /, no Domain attribute, so no subdomain can set or read them.
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
if os.environ.get("SECURE_PROXY_SSL_HEADER"):  # e.g. "HTTP_X_FORWARDED_PROTO" behind a TLS proxy
    SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER"], "https")

# --- Scale-out (deploy/, docs/scaling.md) ---------------------------------------------------------------
# Sessions in Redis with the database behind them: shared by every web process and node, survive a
# Redis restart.
if REDIS_URL:  # noqa: F405
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# A streaming replica for read-only pages (search, availability, FHIR directory); read-your-writes by a
# short sticky-primary cookie after any write (config/routers.py).
if os.environ.get("DATABASE_REPLICA_URL"):
    from .base import database_from_env as _db_from_env

    DATABASES["replica"] = _db_from_env(os.environ["DATABASE_REPLICA_URL"])  # noqa: F405
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}  # noqa: F405
    DATABASE_ROUTERS = ["config.routers.ReplicaRouter"]
    MIDDLEWARE = [*MIDDLEWARE, "config.routers.ReplicaRoutingMiddleware"]  # noqa: F405
    CRENEAU_REPLICA_STICKY_SECONDS = int(os.environ.get("CRENEAU_REPLICA_STICKY_SECONDS", "15"))
# Behind PgBouncer in transaction pooling mode (deploy/pgbouncer.ini): no server-side cursors.
if os.environ.get("DATABASE_PGBOUNCER") == "1":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True  # noqa: F405

# --- FHIR ------------------------------------------------------------------------------------------------
# Outgoing resources are checked against the R4 model in development and tests, where an independent R4
# validator checks every answer as well; here only when asked (it was a third of a computed slot search).
CRENEAU_FHIR_VALIDATE_RESPONSES = os.environ.get("CRENEAU_FHIR_VALIDATE_RESPONSES", "0") == "1"
