"""The proof: a raw copy of the database (SQLite file, pg_dump) shows no patient's identity in clear.

Seeds demo data, decrypts the patients through the ORM to learn what to look for, then searches the raw
bytes. Practitioner, organization and site data are a public directory and may appear; a patient value
that also occurs in that public text is left out of the search (a patient named like a street). Account
login emails (accounts_user) are searched for too."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from creneau.accounts.models import User
from creneau.core import clock
from creneau.directory.models import Organization, Practitioner, Site
from creneau.patients.models import Patient
from creneau.scheduling.models import Motif

from . import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def seed_and_collect() -> tuple[list[str], str]:
    """Seed; return the patient values to look for and the public directory text."""
    f.ensure_specialties()  # an earlier transactional test may have flushed the nomenclature
    with clock.frozen_at(f.paris(2026, 3, 2, 7, 0)):
        call_command("seed_demo", practitioners=20, patients=30, weeks=1, verbosity=0)
    public = " ".join(
        [
            *(f"{p.given_name} {p.family_name}" for p in Practitioner.objects.all()),
            *(o.name for o in Organization.objects.all()),
            *(f"{s.name} {s.address} {s.city}" for s in Site.objects.all()),
            *(m.name for m in Motif.objects.all()),
        ]
    ).casefold()
    secrets: list[str] = [u.email for u in User.objects.all()]
    assert "patient@creneau.test" in secrets and "secretaire@creneau.test" in secrets
    for p in Patient.objects.all():
        values = [p.family_name, p.given_name, p.phone, p.email, p.birth_date.isoformat()]
        secrets += [v for v in values if v and v.casefold() not in public]
    me = Patient.objects.get(account=User.objects.by_email("patient@creneau.test").get(), relationship="self")
    assert {me.family_name, me.given_name, me.phone, me.address_line} <= {
        "Démo",
        "Alice",
        "+33639981234",
        "12 rue de la République",
    }
    assert "Démo" in secrets and "+33639981234" in secrets and "1988-05-17" in secrets
    return sorted(set(secrets)), public


def leaks(blob: bytes, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s.encode("utf-8") in blob]


@pytest.mark.sqlite
def test_sqlite_file_holds_no_patient_identity_in_clear() -> None:
    secrets, _ = seed_and_collect()
    assert len(secrets) > 80  # names, phones, emails and birth dates of 32 patients
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(connection.settings_dict["NAME"])
    files = [str(p) for p in [path, Path(f"{path}-wal")] if p.exists()]
    # Read by another process: closing a file descriptor on the database here would drop this
    # process's SQLite locks (POSIX locks are per process), and the next process to close its own
    # connection would then delete the WAL under the connections still open (a corrupt database
    # for the tests after this one).
    blob = subprocess.run(["cat", *files], capture_output=True, check=True, timeout=60).stdout
    assert b"patients_patient" in blob and len(blob) > 100_000  # we are reading the right, non-empty file
    assert b"Cabinet" in blob  # public directory data is readable: the search would see plaintext
    assert leaks(blob, secrets) == []


@pytest.mark.postgres
def test_pg_dump_holds_no_patient_identity_in_clear() -> None:
    secrets, _ = seed_and_collect()
    s = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": str(s.get("PASSWORD") or "")}
    cmd = ["pg_dump", "--no-owner", "-h", str(s.get("HOST") or "127.0.0.1"), "-p", str(s.get("PORT") or 5432)]
    cmd += ["-U", str(s.get("USER") or "postgres"), str(s["NAME"])]
    dump = subprocess.run(cmd, env=env, capture_output=True, check=True, timeout=120).stdout
    assert b"COPY public.patients_patient" in dump and b"Cabinet" in dump
    assert leaks(dump, secrets) == []
