"""Settings shared by every environment. Environment-specific files import from here."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("CRENEAU_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = False
ALLOWED_HOSTS: list[str] = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "creneau.core",
    "creneau.accounts",
    "creneau.directory",
    "creneau.scheduling",
    "creneau.patients",
    "creneau.booking",
    "creneau.audit",
    "creneau.incidents",
    "creneau.exports",
    "creneau.privacy",
    "creneau.demo",
    "creneau.web",
    "django_tasks_db",
    "creneau.notifications",
    "oauth2_provider",
    "creneau.fhir",
    "creneau.observability",
]

MIDDLEWARE = [
    # Outermost: request id, latency per route, one JSON access line (creneau.observability).
    "creneau.observability.middleware.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outermost after security: sees every response, those of the inner middleware included.
    "creneau.core.nostore.NoStoreMiddleware",
    # Body size, JSON depth and control characters, before anything reads the session or the database.
    "creneau.core.inputlimits.InputLimitsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A suspended account's browser gets 403 "suspended" before any view runs.
    "creneau.accounts.suspension.SuspendedSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "creneau.audit.middleware.AdminAuditMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Second factor enforcement (staff, admins, patients who opted in) and the staff idle timeout.
    "creneau.accounts.middleware.SessionSecurityMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_from_env(default_url: str) -> dict[str, object]:
    """Build the default database from DATABASE_URL (SQLite file unless told otherwise)."""
    url = os.environ.get("DATABASE_URL", default_url)
    config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=0))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # IMMEDIATE: every atomic block takes the write lock up front, so the overlap check and the
        # insert of a booking cannot interleave with another writer's.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        }
    elif config["ENGINE"] == "django.db.backends.postgresql":
        # Fail fast when PostgreSQL is unreachable (creneau.core.failures answers 503 + Retry-After): a
        # request waits at most DB_POOL_TIMEOUT seconds for a connection, a connection attempt at most
        # DB_CONNECT_TIMEOUT, and TCP keepalives find a server that vanished under an open connection.
        config["OPTIONS"] = {
            "pool": {
                "min_size": 1,
                "max_size": int(os.environ.get("DB_POOL_MAX", "8")),
                "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "1.5")),
                # After an outage the pool keeps trying to reconnect (never gives up for good).
                "reconnect_timeout": 24 * 3600,
            },
            "connect_timeout": int(os.environ.get("DB_CONNECT_TIMEOUT", "2")),
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
        }
        # A pooled connection is checked when borrowed: one cut by a restart or a network fault is
        # replaced instead of failing the request that got it.
        config["CONN_HEALTH_CHECKS"] = True
        # Django's backend plus a breaker: after a failed connection attempt, the next ones fail at once
        # for DB_BREAKER_SECONDS (creneau/core/pg/base.py).
        config["ENGINE"] = "creneau.core.pg"
    return config


DATABASES = {"default": database_from_env(f"sqlite:///{VAR_DIR / 'creneau.sqlite3'}")}
# Least privilege (docs/audit.md, deploy/postgres-roles.sql): the application connects as a runtime role
# (DATABASE_URL) that may only INSERT and SELECT the audit tables; `manage.py migrate` connects as the
# owner of the schema (DATABASE_OWNER_URL, same database) and then grants the runtime role its rights.
DATABASE_OWNER: dict[str, object] = (
    dict(dj_database_url.parse(os.environ["DATABASE_OWNER_URL"])) if os.environ.get("DATABASE_OWNER_URL") else {}
)
# The runtime role's name, as the database knows it (checked in production: creneau.E202–E204).
CRENEAU_DB_RUNTIME_ROLE = str(os.environ.get("CRENEAU_DB_RUNTIME_ROLE") or DATABASES["default"].get("USER") or "")
# Database roles allowed to write audit events (recorded by a trigger and sealed); empty: the runtime role.
CRENEAU_AUDIT_WRITER_ROLES = [r for r in os.environ.get("CRENEAU_AUDIT_WRITER_ROLES", "").split(",") if r]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    # Breached/common passwords (offline k-anonymity ranges; online range API when enabled) and strength.
    {"NAME": "creneau.accounts.passwords.BreachedPasswordValidator"},
    {"NAME": "creneau.accounts.passwords.StrengthValidator", "OPTIONS": {"min_score": 2}},
]
# Argon2id first: new and re-hashed passwords use it; PBKDF2 hashes still verify and upgrade on login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
CRENEAU_BREACHED_PASSWORDS_ONLINE = os.environ.get("CRENEAU_BREACHED_PASSWORDS_ONLINE", "0") == "1"
CRENEAU_BREACHED_PASSWORDS_URL = os.environ.get(
    "CRENEAU_BREACHED_PASSWORDS_URL", "https://api.pwnedpasswords.com/range/"
)
CRENEAU_BREACHED_PASSWORDS_TIMEOUT = 2.0
CRENEAU_SITE_WORD = "creneau"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

REDIS_URL = os.environ.get("REDIS_URL", "")
# Redis is an accelerator, not a dependency: creneau.core.cache.RedisCache answers as an empty cache
# while Redis is unreachable (short socket timeouts, a circuit breaker) and recovers by itself.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "creneau.core.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# JSON lines on stderr (creneau.observability.logging): request id, route, status, duration, principal kind;
# never personal data. CRENEAU_LOG_FORMAT=text for plain lines while developing.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "creneau.observability.logging.JsonFormatter"},
        "text": {"()": "creneau.observability.logging.TextFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": os.environ.get("CRENEAU_LOG_FORMAT", "json")}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's default handler for these writes plain text when DEBUG is on: ours instead.
        "django": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO"), "propagate": False},
        # runserver's own access lines carry the path: the middleware's line replaces them.
        "django.server": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
# Bearer token that /metrics requires (creneau.observability.metrics); unset: the endpoint answers 404.
CRENEAU_METRICS_TOKEN = os.environ.get("CRENEAU_METRICS_TOKEN", "")

# --- creneau domain settings -------------------------------------------------------------------
# Input limits (creneau.core.inputlimits): request bodies, JSON nesting. The reverse proxy in deploy/
# refuses larger bodies before they reach the application.
CRENEAU_MAX_BODY_BYTES = int(os.environ.get("CRENEAU_MAX_BODY_BYTES", str(1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = CRENEAU_MAX_BODY_BYTES
CRENEAU_MAX_JSON_DEPTH = 32
# A practitioner's photo (directory.services.practitioner_photo_set): its upload path alone may carry a
# body up to this size (plus the form around it); the proxy allows the same on that path.
CRENEAU_PHOTO_MAX_BYTES = 5 * 1024 * 1024
CRENEAU_DEFAULT_TIME_ZONE = "Europe/Paris"
# How long a slot stays held while a patient fills in the booking form.
CRENEAU_HOLD_MINUTES = 10
# Anti-hoarding: simultaneous holds per account.
CRENEAU_MAX_ACTIVE_HOLDS = 2
# How far ahead the next-availability index looks, and how many starts it keeps per motif.
CRENEAU_INDEX_DAYS = 28
CRENEAU_INDEX_MAX_SLOTS = 96

# --- FHIR API and OAuth2 (creneau.fhir) ----------------------------------------------------------
OAUTH2_PROVIDER = {
    # Short-lived system tokens (SMART Backend Services recommends at most five minutes).
    "ACCESS_TOKEN_EXPIRE_SECONDS": 300,
    "SCOPES_BACKEND_CLASS": "creneau.fhir.scopes.SmartScopes",
    # Adds private_key_jwt (signed assertions) to client secret authentication.
    "OAUTH2_VALIDATOR_CLASS": "creneau.fhir.oauth.SmartOAuth2Validator",
    # RFC 9700 (OAuth 2.0 Security BCP): the compliant behaviours now (tokens only in headers, hashed
    # token storage, no implicit or password grants).
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    # Only client credentials are used; keep the other flows' settings at their strict values too.
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
# Anonymous directory and free-slot reads: requests per window per client address.
CRENEAU_FHIR_ANON_RATE = (120, 60)
# Largest page a FHIR search returns, whatever _count asks.
CRENEAU_FHIR_MAX_COUNT = 100
# Slot searches over at most this many agendas are computed live (else read from the index), over
# at most this many days.
CRENEAU_FHIR_LIVE_SLOT_AGENDAS = 40
CRENEAU_FHIR_SLOT_WINDOW_DAYS = 31
# Slot search answers are cached this long (0: off), keyed by the index versions they come from; a
# booking invalidates them at once, so this only bounds how long a start that has just passed may show.
CRENEAU_FHIR_SLOT_CACHE_SECONDS = 15
# Every resource the API sends is checked against the R4 model before it leaves (a failure is our bug):
# on here (development, tests), off in production unless asked for (config/settings/prod.py).
CRENEAU_FHIR_VALIDATE_RESPONSES = True
# The patient search page's results block, cached likewise under the index versions (web.views.home);
# directory edits (a practice's address, a practitioner's sector) show within this many seconds.
CRENEAU_SEARCH_CACHE_SECONDS = 15
# Clients registered with a `jwks_uri` (private_key_jwt): the only hosts ever fetched, over https
# (http only where CRENEAU_JWKS_ALLOW_HTTP, for development), and how long a fetched key set is kept.
CRENEAU_JWKS_ALLOWED_HOSTS: list[str] = [h for h in os.environ.get("CRENEAU_JWKS_ALLOWED_HOSTS", "").split(",") if h]
CRENEAU_JWKS_ALLOW_HTTP = False
CRENEAU_JWKS_CACHE_SECONDS = 300

# --- audit trail and detection (creneau.audit) ----------------------------------------------------
CRENEAU_AUDIT_ENABLED = True
# Keys held outside the database (docs/audit.md). Without them, development and tests use public
# development keys, which production refuses (system check creneau.E201).
from creneau.audit import envkeys as _audit_keys  # noqa: E402

# HMAC keys of the seals and of each event's write MAC: `kid:base64-32-bytes[,oldkid:...]`, the first
# seals, all verify (rotation as for the field keys).
CRENEAU_AUDIT_SEAL_KEYS = _audit_keys.seal_keys_from_env() or _audit_keys.DEV_SEAL_KEYS
# Ed25519 private key (base64 of the 32-byte seed) that signs every published chain head; its public key
# (`manage.py audit_public_key`) is all an auditor needs. Earlier public keys, after a rotation, in
# CRENEAU_AUDIT_PUBLIC_KEYS (comma-separated base64).
CRENEAU_AUDIT_SIGNING_KEY = _audit_keys.secret("CRENEAU_AUDIT_SIGNING_KEY") or _audit_keys.DEV_SIGNING_KEY
CRENEAU_AUDIT_PUBLIC_KEYS = [k for k in _audit_keys.secret("CRENEAU_AUDIT_PUBLIC_KEYS").split(",") if k.strip()]
# The sealer runs this often (the worker's periodic job); an event is sealed, and the new chain head
# published, at most one interval after it is written. `audit_verify` reports events still unsealed,
# and sealed heads still unpublished, after CRENEAU_AUDIT_UNSEALED_GRACE_SECONDS.
CRENEAU_AUDIT_SEAL_SECONDS = int(os.environ.get("CRENEAU_AUDIT_SEAL_SECONDS", "30"))
CRENEAU_AUDIT_UNSEALED_GRACE_SECONDS = int(os.environ.get("CRENEAU_AUDIT_UNSEALED_GRACE_SECONDS", "60"))
# Signed heads are appended to this local file (development sink; in production a second copy only).
CRENEAU_AUDIT_CHECKPOINT_FILE = os.environ.get("CRENEAU_AUDIT_CHECKPOINT_FILE", str(VAR_DIR / "audit-checkpoints.log"))
# Where each signed chain head is published, every seal: a list of {"BACKEND": dotted path, "OPTIONS": {...}}
# (creneau.audit.anchors). The local file always; a remote append-only HTTP log when
# CRENEAU_AUDIT_ANCHOR_URL is set (deploy/anchor_log_server.py is one), which production needs
# (system check creneau.W205).
CRENEAU_AUDIT_ANCHOR_SINKS: list[dict[str, object]] = [
    {"BACKEND": "creneau.audit.anchors.FileSink", "OPTIONS": {"path": CRENEAU_AUDIT_CHECKPOINT_FILE}},
]
if os.environ.get("CRENEAU_AUDIT_ANCHOR_URL"):
    CRENEAU_AUDIT_ANCHOR_SINKS.append(
        {
            "BACKEND": "creneau.audit.anchors.HttpLogSink",
            "OPTIONS": {
                "url": os.environ["CRENEAU_AUDIT_ANCHOR_URL"],
                "token": _audit_keys.secret("CRENEAU_AUDIT_ANCHOR_TOKEN"),
                "timeout": float(os.environ.get("CRENEAU_AUDIT_ANCHOR_TIMEOUT", "5")),
            },
        }
    )
# Which application instance wrote an event (sealed with it): a host name unless configured.
CRENEAU_INSTANCE_ID = os.environ.get("CRENEAU_INSTANCE_ID", "") or _audit_keys.default_instance_id()
CRENEAU_SECURITY_CONTACT = os.environ.get("CRENEAU_SECURITY_CONTACT", "securite@creneau.example")
CRENEAU_DETECTION = {
    "window_minutes": 60,
    "baseline_days": 14,
    # Alert when a principal exceeds this multiple of its own daily-average distinct patients.
    "baseline_factor": 3,
    "working_hours": (7, 21),
    # Requests a throttled API client may still send (each answered 429) in the window before it is
    # suspended for ignoring its quota.
    "quota_grace": 30,
    # Distinct patients touched per window, and not-found answers per window, by kind of principal.
    "limits": {
        "patient": {"alert_patients": 15, "suspend_patients": 40, "alert_not_found": 15, "suspend_not_found": 40},
        "staff": {"alert_patients": 300, "suspend_patients": 1000, "alert_not_found": 60, "suspend_not_found": 200},
        # API clients: published quotas (429 with Retry-After when reached, creneau.audit.detection),
        # well above an organization's own software syncing its agenda (a first sync of a few hundred
        # patients, a test run's not-founds), the hard limits twice as high.
        "api_client": {
            "alert_patients": 500,
            "quota_patients": 1000,
            "suspend_patients": 2000,
            "alert_not_found": 150,
            "quota_not_found": 300,
            "suspend_not_found": 1000,
        },
        "default": {"alert_patients": 100, "suspend_patients": 300, "alert_not_found": 30, "suspend_not_found": 100},
    },
}

# --- Encryption at rest (creneau.core.crypto; docs/decisions/0003) ------------------------------------
# Ordered field keys [(key-id, base64 32 bytes)]: the first encrypts, all decrypt. From CRENEAU_FIELD_KEYS
# or CRENEAU_FIELD_KEYS_FILE; without them, dev/test fall back to INSECURE public dev keys (production
# settings refuse them: system check creneau.E101).
from creneau.core.crypto import envkeys as _envkeys  # noqa: E402

CRENEAU_FIELD_KEYS = _envkeys.field_keys_from_env() or _envkeys.DEV_FIELD_KEYS
CRENEAU_BLIND_INDEX_KEY = _envkeys.secret_from_env("CRENEAU_BLIND_INDEX_KEY") or _envkeys.DEV_BLIND_INDEX_KEY
CRENEAU_KEY_PROVIDER = "creneau.core.crypto.keys.SettingsKeyProvider"
CRENEAU_REQUIRE_REAL_KEYS = False

# --- Notifications and background work (creneau.notifications; docs/notifications.md) --------------
# Django Tasks with the database backend: tasks live in the same database, run by
# `manage.py notifications_worker` (started by `make run`).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# Every link in a message points here and nowhere else (anti-phishing).
CRENEAU_PUBLIC_URL = os.environ.get("CRENEAU_PUBLIC_URL", "http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "creneau <ne-pas-repondre@creneau.example>")
# Reminders (notifications.services.reminder_plan), at the appointment's wall-clock time so many
# calendar days before in the site's time zone: e-mails 7 days and 1 day before; one SMS 2 days before
# when the booking was made more than CRENEAU_REMINDER_SMS_EARLY_IF_BOOKED_DAYS ahead, else 1 day before.
CRENEAU_REMINDER_EMAIL_DAYS = (7, 1)
CRENEAU_REMINDER_SMS_DAYS = (2, 1)
CRENEAU_REMINDER_SMS_EARLY_IF_BOOKED_DAYS = 7
# How long a freed slot is held for one waiting patient before passing to the next.
CRENEAU_WAITLIST_OFFER_MINUTES = 30
# Outbox delivery: a claim's lease (must exceed the slowest send), retries with exponential backoff.
# A claimed message is the claiming worker's for this long, renewed every third of it while sending:
# a crashed worker's message is sent again within about a minute (the next sweep after the lease).
CRENEAU_OUTBOX_LEASE_SECONDS = int(os.environ.get("CRENEAU_OUTBOX_LEASE_SECONDS", "45"))
# Task rows (django_tasks_db) left RUNNING this long by a worker that died are made READY again (every
# task is a wake-up, safe to run twice).
CRENEAU_TASK_STUCK_SECONDS = int(os.environ.get("CRENEAU_TASK_STUCK_SECONDS", "600"))
CRENEAU_OUTBOX_MAX_ATTEMPTS = 8
CRENEAU_OUTBOX_RETRY_BASE_SECONDS = 60
CRENEAU_OUTBOX_RETRY_MAX_SECONDS = 3600
# Finished messages (their bodies hold personal data) are deleted after this many days.
CRENEAU_OUTBOX_RETENTION_DAYS = 400
# SMS: file backend by default (var/sms/<message id>.txt); HttpGatewaySmsBackend in production.
CRENEAU_SMS_BACKEND = os.environ.get("CRENEAU_SMS_BACKEND", "creneau.notifications.sms.FileSmsBackend")
CRENEAU_SMS_FILE_DIR = os.environ.get("CRENEAU_SMS_FILE_DIR", str(VAR_DIR / "sms"))
CRENEAU_SMS_GATEWAY_URL = os.environ.get("CRENEAU_SMS_GATEWAY_URL", "")
CRENEAU_SMS_GATEWAY_TOKEN = os.environ.get("CRENEAU_SMS_GATEWAY_TOKEN", "")
CRENEAU_SMS_GATEWAY_TIMEOUT = 10
# FHIR subscriptions (creneau.fhir.subscriptions): web hooks to partners' endpoints. Seconds before a POST
# gives up; consecutive failed attempts after which a subscription is paused (status error); whether
# plain http:// to this machine (127.0.0.1, localhost) is accepted (development and tests only).
CRENEAU_WEBHOOK_TIMEOUT = 10
CRENEAU_FHIR_SUBSCRIPTION_MAX_FAILURES = int(os.environ.get("CRENEAU_FHIR_SUBSCRIPTION_MAX_FAILURES", "5"))
CRENEAU_FHIR_SUBSCRIPTION_LOCAL_HTTP = False
CRENEAU_SMS_SENDER = os.environ.get("CRENEAU_SMS_SENDER", "creneau")

# --- Accounts and HTTP hardening (creneau.accounts, creneau.core.ratelimit; docs/decisions/0004) ------
from django.utils.csp import CSP  # noqa: E402

# Sign-in throttling and lockout happen in the backend, so every login form (admin included) gets them.
AUTHENTICATION_BACKENDS = ["creneau.accounts.throttle.ThrottledModelBackend"]
# User.email is encrypted; its uniqueness is the unique email blind index (User.email_bidx), which is what
# the backend looks accounts up by (UserManager.get_by_natural_key).
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
# TOTP second factor: required for practice staff and operators (middleware), optional for patients.
CRENEAU_MFA_ENFORCED = True
# Passkeys (creneau/accounts/passkeys.py): the relying party id and the origins allowed; both follow
# CRENEAU_PUBLIC_URL when empty. An id must be the site's host or a parent domain of it.
CRENEAU_WEBAUTHN_RP_ID = os.environ.get("CRENEAU_WEBAUTHN_RP_ID", "")
CRENEAU_WEBAUTHN_ORIGINS: list[str] = [o for o in os.environ.get("CRENEAU_WEBAUTHN_ORIGINS", "").split(",") if o]
# Sensitive changes (email, phone, password, second factor) need a password typed this recently.
CRENEAU_REAUTH_SECONDS = 5 * 60
# Staff sessions end after this much inactivity; patient sessions follow SESSION_COOKIE_AGE.
CRENEAU_STAFF_IDLE_SECONDS = 15 * 60
# Future booked appointments per patient account (themselves and relatives): no hoarding of slots.
CRENEAU_MAX_FUTURE_APPOINTMENTS = 8
# Spacing rule (issue 17): specialty code -> minimum days between two appointments of one patient in that
# specialty, for bookings made by patients (the same practitioner twice the same day is always refused).
# E.g. {"SM04": 6}; none by default.
CRENEAU_SPACING_DAYS: dict[str, int] = {}
# Override any named limit of creneau.core.ratelimit.DEFAULTS: {"name": (limit, window_seconds)}.
CRENEAU_RATE_LIMITS: dict[str, tuple[int, int]] = {}
# Behind a reverse proxy, the META key of the header it sets to the client address (e.g. "HTTP_X_REAL_IP").
CRENEAU_TRUSTED_PROXY_HEADER = os.environ.get("CRENEAU_TRUSTED_PROXY_HEADER", "")

SESSION_COOKIE_AGE = 14 * 24 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Strict CSP: own scripts and styles only, nothing inline, no plugins, no framing, forms post home.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- retention (creneau.privacy.retention; `manage.py retention_run` daily) -----------------------
CRENEAU_RETENTION = {
    # Patients without an account (created by a practice) are anonymized this long after their last visit.
    "inactive_patient_days": 3 * 365,
}

# --- bulk exports (creneau.exports) ----------------------------------------------------------------
CRENEAU_EXPORT_DIR = os.environ.get("CRENEAU_EXPORT_DIR", str(VAR_DIR / "exports"))

# --- search map (creneau.web: Leaflet is shipped in static/, only the map tiles come from outside) --
# Tile URL template ({z}/{x}/{y}); empty: the map shows the markers on a plain background, no request
# leaves the browser for tiles. Its origin is added to the CSP's img-src.
CRENEAU_MAP_TILE_URL = os.environ.get("CRENEAU_MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
CRENEAU_MAP_ATTRIBUTION = os.environ.get("CRENEAU_MAP_ATTRIBUTION", "© OpenStreetMap contributors")
if CRENEAU_MAP_TILE_URL:
    from urllib.parse import urlsplit as _urlsplit

    _tiles = _urlsplit(CRENEAU_MAP_TILE_URL)
    SECURE_CSP["img-src"] = [CSP.SELF, "data:", f"{_tiles.scheme}://{_tiles.netloc}"]

# --- teleconsultation (creneau.booking.video) --------------------------------------------------------
# The video service's base URL (a self-hosted Jitsi, for instance): each video appointment's room is
# this URL followed by an unguessable room name (a keyed MAC of the appointment, under SECRET_KEY).
CRENEAU_VIDEO_BASE_URL = os.environ.get("CRENEAU_VIDEO_BASE_URL", "https://visio.creneau.example/")

# --- phone numbers (creneau.patients.phones) --------------------------------------------------------
# Accept ARCEP's fiction range (06 39 98 xx xx), which the demo data and tests use. Never in production.
CRENEAU_ACCEPT_FICTION_PHONES = False

# Domain events (creneau.core.events): event name -> dotted paths of the handlers that react to it. A
# lower app emits; the apps above it listen here, so no app imports its listeners. Each app's events
# are listed in its `events.py`; add a handler by appending its path (plugins, deployments).
CRENEAU_EVENT_HANDLERS: dict[str, list[str]] = {
    # accounts.team (creneau/accounts/events.py): the e-mails of team management.
    "team.invitation_created": ["creneau.notifications.team.on_invitation_created"],
    "team.rights_changed": ["creneau.notifications.team.on_rights_changed"],
    "team.role_changed": ["creneau.notifications.team.on_role_changed"],
    "team.member_removed": ["creneau.notifications.team.on_member_removed"],
    # Account and security messages (accounts emits, notifications queues them in the outbox).
    "account.signup_requested": ["creneau.notifications.account.on_signup_requested"],
    "account.signup_existing": ["creneau.notifications.account.on_signup_existing"],
    "account.password_reset_requested": ["creneau.notifications.account.on_password_reset_requested"],
    "account.password_changed": ["creneau.notifications.account.on_password_changed"],
    "account.mfa_changed": ["creneau.notifications.account.on_mfa_changed"],
    "account.new_login": ["creneau.notifications.account.on_new_login"],
    "account.passkey_changed": ["creneau.notifications.account.on_passkey_changed"],
    # Erasure (privacy.rights): booking cancels the future appointments through appointment_cancel.
    "patient.erasing": ["creneau.booking.erasure.on_patient_erasing"],
    "patient.account_erasing": ["creneau.booking.erasure.on_account_erasing"],
    # Booking (creneau/booking/events.py): confirmations, reminders, cancellations, the waiting list.
    # fhir.notify: the partners' subscriptions (a web hook queued in the outbox for each one concerned).
    "appointment.booked": [
        "creneau.notifications.services.on_appointment_booked",
        "creneau.fhir.notify.on_appointment_booked",
    ],
    "appointment.cancelled": [
        "creneau.notifications.services.on_appointment_cancelled",
        "creneau.fhir.notify.on_appointment_cancelled",
    ],
    "appointment.moved": [
        "creneau.notifications.services.on_appointment_moved",
        "creneau.fhir.notify.on_appointment_moved",
    ],
    "appointment.no_show": ["creneau.fhir.notify.on_appointment_no_show"],
    # The outbox's report on web hooks (creneau/notifications/events.py): fhir audits each delivery to a
    # partner and pauses a subscription after repeated failures.
    "outbox.webhook_delivered": ["creneau.fhir.notify.on_webhook_delivered"],
    "outbox.webhook_failed": ["creneau.fhir.notify.on_webhook_failed"],
    # patients.services: the SMS carrying a phone confirmation code.
    "patient.phone_code_issued": ["creneau.notifications.services.send_phone_code"],
    # patients.services: a practice blocks (or allows again) online booking for a patient, who is told.
    "patient.booking_blocked": ["creneau.notifications.blocks.on_booking_blocked"],
    "patient.booking_unblocked": ["creneau.notifications.blocks.on_booking_unblocked"],
    # Detection (creneau/audit/events.py): audit is a sink, the apps above act on what it decides.
    "audit.alert_raised": [
        "creneau.incidents.services.on_alert_raised",  # a suspension opens an incident
        "creneau.incidents.alerts.on_alert_raised",  # e-mail to the security contact and admins, on commit
    ],
    "audit.principal_suspended": ["creneau.accounts.suspension.on_principal_suspended"],  # deactivates a user
}
# Providers (creneau.core.providers): a lower app's question answered by an app above it, by dotted path.
# Busy time for the slot engine (scheduling asks, booking answers: appointments and unexpired holds).
CRENEAU_BUSY_TIME_PROVIDER = "creneau.booking.providers.busy_rows"
# Patients known to organizations through an appointment there (patients' visibility asks, booking answers).
CRENEAU_PATIENTS_SEEN_PROVIDER = "creneau.booking.providers.patients_seen_by"
# The suspension gate every channel calls (core.suspension) asks audit's store and writes audit's trail.
# Both are required (creneau.E107): without them no suspended principal would be refused.
CRENEAU_SUSPENSION_PROVIDER = "creneau.audit.detection.is_suspended"
CRENEAU_REFUSAL_RECORDER = "creneau.audit.refusals.record_refusal"
# The background worker's periodic jobs (creneau.core.periodic): (name, seconds between runs, dotted path of
# a function taking no argument). Each runs at most once per interval across all workers.
CRENEAU_PERIODIC_JOBS: list[tuple[str, int, str]] = [
    # Seal new audit events and publish the new chain head to the anchor sinks (docs/audit.md).
    ("audit-seal", CRENEAU_AUDIT_SEAL_SECONDS, "creneau.audit.services.audit_seal"),
    ("detection-window-prune", 3600, "creneau.audit.detection.detection_window_prune"),
    ("availability-refresh", 300, "creneau.scheduling.services.availability_refresh_all"),
    ("retention", 86400, "creneau.privacy.retention.retention_run"),
]
# How long an invitation link to a practice team stays valid (creneau.accounts.team).
CRENEAU_INVITATION_DAYS = 7
