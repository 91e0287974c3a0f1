"""Staff find a patient by any part of the name (accents and case aside), by phone or by birth date,
among the patients known to their organization only, while identities stay encrypted: the name
index holds keyed fragment digests, never a fragment in clear."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from creneau.audit.models import AuditEvent
from creneau.core.errors import InvalidInput
from creneau.patients.models import Patient, PatientNameGram
from creneau.patients.selectors import patient_search_for_organization as search
from creneau.patients.services import patient_create_for_organization, patient_update

from . import factories as f

pytestmark = pytest.mark.django_db


def _patient(org: object, staff: object, family: str, given: str, **extra: object) -> Patient:
    identity: dict[str, object] = {"birth_date": dt.date(1979, 4, 23), "phone": "", **extra}
    return patient_create_for_organization(
        actor=staff,  # type: ignore[arg-type]
        organization_id=org.pk,  # type: ignore[attr-defined]
        family_name=family,
        given_name=given,
        **identity,
    )


@pytest.fixture
def practice() -> tuple[object, object]:
    org = f.organization()
    return org, f.staff(org)


def ids(rows: list[Patient]) -> list[object]:
    return [p.pk for p in rows]


def test_any_part_of_the_name_finds_the_patient_whatever_the_accents_and_case(practice: tuple) -> None:
    org, staff = practice
    zoe = _patient(org, staff, "Lefèvre-Dupré", "Zoé")
    other = _patient(org, staff, "Martin", "Paul")
    for query in ("lefevre", "FÈVR", "dupr", "zoe", "Zo", "pré zoé", "efe"):
        assert ids(search(staff, name=query)) == [zoe.pk], query
    assert ids(search(staff, name="mart")) == [other.pk]
    assert search(staff, name="lefevre paul") == []  # every word must match
    assert search(staff, name="xyz") == []


def test_a_fragment_coincidence_is_not_a_match(practice: tuple) -> None:
    org, staff = practice
    _patient(org, staff, "Abcxbcd", "Jean")  # has the trigrams "abc" and "bcd", not "abcd"
    assert search(staff, name="abcd") == []


def test_name_combines_with_birth_date_and_phone(practice: tuple) -> None:
    org, staff = practice
    a = _patient(org, staff, "Durand", "Anne", birth_date=dt.date(1990, 1, 2), phone="06 11 22 33 44")
    b = _patient(org, staff, "Durand", "Bruno", birth_date=dt.date(1985, 6, 7), phone="06 55 66 77 88")
    assert ids(search(staff, name="durand")) == [a.pk, b.pk]  # sorted by name
    assert ids(search(staff, name="durand", birth_date=dt.date(1985, 6, 7))) == [b.pk]
    assert ids(search(staff, birth_date=dt.date(1990, 1, 2))) == [a.pk]
    assert ids(search(staff, phone="+33611223344")) == [a.pk]
    assert search(staff, name="durand", phone="+33611223344", birth_date=dt.date(1985, 6, 7)) == []


def test_search_stays_inside_the_organization_and_is_audited(practice: tuple) -> None:
    org, staff = practice
    zoe = _patient(org, staff, "Lefèvre", "Zoé")
    outsider = f.staff(f.organization("Ailleurs"))
    assert search(outsider, name="lefevre") == []
    before = AuditEvent.objects.count()
    assert ids(search(staff, name="lefevre")) == [zoe.pk]
    assert AuditEvent.objects.count() == before + 1  # the rows returned, in the trail


def test_renaming_reindexes_and_the_old_name_no_longer_matches(practice: tuple) -> None:
    org, staff = practice
    p = _patient(org, staff, "Lefèvre", "Zoé")
    patient_update(actor=staff, patient_id=p.pk, family_name="Garnier")
    assert search(staff, name="lefev") == []
    assert ids(search(staff, name="garni")) == [p.pk]


def test_one_letter_is_refused_with_a_clear_message(practice: tuple) -> None:
    _, staff = practice
    with pytest.raises(InvalidInput, match=r"two letters|deux lettres"):
        search(staff, name="z")


def test_the_index_holds_digests_only(practice: tuple) -> None:
    org, staff = practice
    p = _patient(org, staff, "Lefèvre", "Zoé")
    digests = list(PatientNameGram.objects.filter(patient=p).values_list("digest", flat=True))
    assert digests and all(len(d) == 16 and int(d, 16) >= 0 for d in digests)
    assert not any(part in d for d in digests for part in ("lef", "zoe", "fev"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT birth_bidx FROM patients_patient WHERE birth_bidx IS NOT NULL")
        assert all("1979" not in row[0] for row in cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_the_migration_backfills_existing_patients(migrations_as_owner: None) -> None:
    org = f.organization()
    staff = f.staff(org)
    p = _patient(org, staff, "Lefèvre", "Zoé")
    PatientNameGram.objects.all().delete()
    Patient.objects.filter(pk=p.pk).update(birth_bidx=None)
    assert search(staff, name="lefev") == []
    executor = MigrationExecutor(connection)
    # Every app's latest migration: rolling patients back also rolls back what depends on it in other apps.
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("patients", "0004_phone_verification")])
    try:
        MigrationExecutor(connection).migrate([("patients", "0005_name_search")])
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert ids(search(staff, name="lefev")) == [p.pk]
    assert ids(search(staff, birth_date=dt.date(1979, 4, 23))) == [p.pk]
