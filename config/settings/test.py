"""Test settings: fast hashing, a file-backed SQLite test database so threads share it."""

import os
import tempfile

from .base import *  # noqa: F403
from .base import DATABASES, VAR_DIR

# Several checkouts or agents on one machine: give each its own test database name.
TEST_DB = os.environ.get("CRENEAU_TEST_DB", "test_creneau")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"{TEST_DB}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": TEST_DB}
    if os.environ.get("DATABASE_OWNER_URL"):
        # Runtime and owner roles (tests/pg_roles.py): the flush between transactional tests runs as the owner.
        DATABASES["default"]["ENGINE"] = "tests.pgbackend"

# Tests sign staff in with force_login: the second-factor step is exercised by tests that turn it on
# (tests/test_mfa.py). Lockout counters live in the per-process local cache.
CRENEAU_MFA_ENFORCED = False

# Signed chain heads go to a file of this test process, never to the development one (each test gets
# its own file: tests/conftest.py).
CRENEAU_AUDIT_CHECKPOINT_FILE = os.path.join(tempfile.mkdtemp(prefix="creneau-audit-"), "checkpoints.log")
CRENEAU_EXPORT_DIR = os.path.join(tempfile.mkdtemp(prefix="creneau-exports-"), "exports")

# No test may reach the internet: no tiles unless a test serves them itself.
CRENEAU_MAP_TILE_URL = ""

# The test data uses the fiction range of phone numbers (06 39 98 xx xx).
CRENEAU_ACCEPT_FICTION_PHONES = True
CRENEAU_FHIR_SUBSCRIPTION_LOCAL_HTTP = True  # the tests run a local HTTP receiver
