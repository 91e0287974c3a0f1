"""Patient identities are encrypted as one record per row, bound to their row, and findable by blind index."""

from __future__ import annotations

import base64
import datetime as dt
import os
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from creneau.core.crypto import envkeys
from creneau.core.crypto.aead import DecryptionError
from creneau.core.crypto.fields import EncryptedFieldQueryError
from creneau.core.errors import InvalidInput
from creneau.patients.models import IDENTITY_FIELDS, Patient
from creneau.patients.selectors import access_patient, patient_search_for_organization
from creneau.patients.services import patient_create_for_organization

from . import factories as f

pytestmark = pytest.mark.django_db

NEW_KEY = ("k2027", base64.b64encode(b"n" * 32).decode())


def raw_record(patient_id: object) -> str | None:
    """The stored `identity` column of one patient, as a dump would show it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT identity FROM patients_patient WHERE id = %s",
            [Patient._meta.pk.get_db_prep_value(patient_id, connection)],
        )
        (stored,) = cursor.fetchone()
    return stored


def write_raw(patient_id: object, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE patients_patient SET identity = %s WHERE id = %s",
            [value, Patient._meta.pk.get_db_prep_value(patient_id, connection)],
        )


def fresh(patient: Patient) -> Patient:
    return Patient.objects.get(pk=patient.pk)


def new_patient(org: object, actor: object, **extra: object) -> Patient:
    identity = {
        "family_name": "Lefèvre-Dupré",
        "given_name": "Zoé",
        "birth_date": dt.date(1979, 4, 23),
        "phone": "06 12 34 56 78",
        "email": "Zoe.Lefevre@Exemple.invalid",
        "address_line": "3 impasse des Lilas",
        "postcode": "69007",
        "city": "Lyon",
        "sex": "F",
    }
    identity.update(extra)
    return patient_create_for_organization(actor=actor, organization_id=org.pk, **identity)  # type: ignore[attr-defined,arg-type]


@pytest.fixture
def practice() -> tuple[object, object]:
    org = f.organization()
    return org, f.staff(org)


def test_identity_reads_back_as_python_values_but_is_stored_as_keyed_ciphertext(practice: tuple) -> None:
    org, staff = practice
    p = fresh(new_patient(org, staff))
    assert (p.family_name, p.given_name, p.birth_date, p.email) == (
        "Lefèvre-Dupré",
        "Zoé",
        dt.date(1979, 4, 23),
        "Zoe.Lefevre@Exemple.invalid",
    )
    assert p.get_sex_display() == "Femme" or p.get_sex_display() == "Female"
    raw = raw_record(p.pk)
    assert raw is not None and raw.startswith(f"{envkeys.INSECURE_DEV_KEY_ID}:")
    # No value in clear, neither in the column's text nor in the bytes it encodes. Four characters at
    # least: a shorter string turns up in random base64 by chance (two letters in about one run in 20).
    body = base64.b64decode(raw.partition(":")[2])
    for clear in ("Lefèvre", "Zoé", "1979-04-23", "34 56 78", "Exemple", "Lilas", "69007", "Lyon"):
        assert clear not in raw, clear
        assert clear.encode() not in body, clear


def test_the_same_identity_encrypts_differently_each_time(practice: tuple) -> None:
    from creneau.patients.services import patient_update

    org, staff = practice
    p = new_patient(org, staff)
    before = raw_record(p.pk)
    patient_update(actor=staff, patient_id=p.pk, city="Lyon")  # same value again
    assert raw_record(p.pk) != before
    assert fresh(p).city == "Lyon"


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(practice: tuple) -> None:
    org, staff = practice
    victim = new_patient(org, staff)
    other = new_patient(org, staff, family_name="Martin", phone="0600000002", email="m@exemple.invalid")
    write_raw(other.pk, raw_record(victim.pk))  # type: ignore[arg-type]
    with pytest.raises(DecryptionError):
        _ = fresh(other).family_name


def test_a_ciphertext_from_another_encrypted_column_does_not_decrypt(practice: tuple) -> None:
    org, staff = practice
    p = new_patient(org, staff)
    with connection.cursor() as cursor:
        cursor.execute("SELECT email FROM accounts_user WHERE email_bidx = %s", [staff.user.email_bidx])
        (account_email_token,) = cursor.fetchone()
    write_raw(p.pk, account_email_token)
    with pytest.raises(DecryptionError):
        _ = fresh(p).given_name


def test_an_emptied_record_is_refused_rather_than_read_as_blank(practice: tuple) -> None:
    org, staff = practice
    p = new_patient(org, staff)
    write_raw(p.pk, "")
    with pytest.raises(DecryptionError):
        _ = fresh(p).family_name


def test_an_altered_ciphertext_does_not_decrypt(practice: tuple) -> None:
    org, staff = practice
    p = new_patient(org, staff)
    stored = raw_record(p.pk)
    assert stored is not None
    kid, body = stored.split(":", 1)
    raw = bytearray(base64.b64decode(body))
    raw[20] ^= 1
    write_raw(p.pk, f"{kid}:{base64.b64encode(bytes(raw)).decode()}")
    with pytest.raises(DecryptionError):
        _ = fresh(p).birth_date


def test_filtering_an_encrypted_column_by_plaintext_is_refused(practice: tuple) -> None:
    org, staff = practice
    new_patient(org, staff)
    with pytest.raises(EncryptedFieldQueryError):
        list(Patient.objects.filter(family_name="Lefèvre-Dupré"))
    with pytest.raises(EncryptedFieldQueryError):
        list(Patient.objects.order_by("birth_date"))
    with pytest.raises(EncryptedFieldQueryError):
        list(Patient.objects.values_list("email", flat=True))
    with pytest.raises(EncryptedFieldQueryError):
        list(Patient.objects.filter(identity="Lefèvre-Dupré"))
    with pytest.raises(EncryptedFieldQueryError):
        # The stubs refuse these calls as well (city is encrypted): what is checked here is the run time.
        Patient.objects.update(city="Paris")  # type: ignore[misc]
    with pytest.raises(EncryptedFieldQueryError):
        Patient.objects.bulk_update(list(Patient.objects.all()), ["city"])  # type: ignore[misc]


def test_updating_a_patient_re_encrypts_and_reindexes(practice: tuple) -> None:
    from creneau.patients.services import patient_update

    org, staff = practice
    p = new_patient(org, staff)
    patient_update(actor=staff, patient_id=p.pk, phone="07 11 22 33 44")
    assert fresh(p).phone == "07 11 22 33 44"
    assert [x.pk for x in patient_search_for_organization(staff, phone="+33711223344")] == [p.pk]
    assert patient_search_for_organization(staff, phone="0612345678") == []


def test_staff_find_a_patient_by_email_phone_or_name_and_birth_date(practice: tuple) -> None:
    org, staff = practice
    p = new_patient(org, staff)
    new_patient(org, staff, family_name="Autre", phone="0699999999", email="x@exemple.invalid")
    assert [x.pk for x in patient_search_for_organization(staff, email="  zoe.lefevre@exemple.INVALID ")] == [p.pk]
    assert [x.pk for x in patient_search_for_organization(staff, phone="+33 6 12 34 56 78")] == [p.pk]
    assert [x.pk for x in patient_search_for_organization(staff, phone="0033612345678")] == [p.pk]
    found = patient_search_for_organization(staff, family_name="lefevre dupre", birth_date=dt.date(1979, 4, 23))
    assert [x.pk for x in found] == [p.pk]
    assert patient_search_for_organization(staff, family_name="Lefèvre-Dupré", birth_date=dt.date(1979, 4, 24)) == []


def test_search_never_crosses_organizations(practice: tuple) -> None:
    org, staff = practice
    new_patient(org, staff)
    outsider = f.staff(f.organization("Ailleurs"))
    assert patient_search_for_organization(outsider, email="zoe.lefevre@exemple.invalid") == []


def test_searching_by_name_alone_asks_for_the_birth_date(practice: tuple) -> None:
    _, staff = practice
    with pytest.raises(InvalidInput, match=r"date of birth|date de naissance"):
        patient_search_for_organization(staff, family_name="Lefèvre")


def test_blind_indexes_reveal_nothing_without_their_key(practice: tuple) -> None:
    org, staff = practice
    p = fresh(new_patient(org, staff))
    assert p.email_bidx and len(p.email_bidx) == 64
    with override_settings(CRENEAU_BLIND_INDEX_KEY=base64.b64encode(b"o" * 32).decode()):
        assert patient_search_for_organization(staff, email="zoe.lefevre@exemple.invalid") == []


def test_rotation_re_encrypts_everything_and_the_old_key_can_then_go(practice: tuple) -> None:
    org, staff = practice
    patients = [new_patient(org, staff, phone=f"06000000{i:02d}", email=f"p{i}@exemple.invalid") for i in range(3)]
    old = envkeys.DEV_FIELD_KEYS[0]
    with override_settings(CRENEAU_FIELD_KEYS=[NEW_KEY, old]):
        out = StringIO()
        # Interrupted after one batch of one row: resumable, the next run finishes the job.
        call_command("rotate_keys", batch_size=1, max_batches=1, stdout=out)
        assert "run again to resume" in out.getvalue()
        with connection.cursor() as cursor:  # accounts and patients: exactly one row moved so far
            cursor.execute(
                "SELECT (SELECT COUNT(*) FROM accounts_user WHERE email LIKE 'k2027:%%')"
                " + (SELECT COUNT(*) FROM patients_patient WHERE identity LIKE 'k2027:%%')"
            )
            assert cursor.fetchone()[0] == 1
        call_command("rotate_keys", batch_size=2, stdout=StringIO())
    with override_settings(CRENEAU_FIELD_KEYS=[NEW_KEY]):
        for p in patients:
            assert (raw_record(p.pk) or "").startswith("k2027:")
            assert fresh(p).given_name == "Zoé"
        from creneau.accounts.models import User

        assert User.objects.by_email(staff.user.email).get().email == staff.user.email
        assert [x.pk for x in patient_search_for_organization(staff, email="p1@exemple.invalid")] == [patients[1].pk]
        out = StringIO()
        call_command("rotate_keys", dry_run=True, stdout=out)
        assert "0 row(s)" in out.getvalue()
    with override_settings(CRENEAU_FIELD_KEYS=[old]), pytest.raises(DecryptionError):
        _ = fresh(patients[0]).given_name


def test_a_patient_account_reads_its_own_decrypted_record() -> None:
    _user, patient, actor = f.patient_account(given_name="Inès")
    assert access_patient(actor, patient.pk).given_name == "Inès"


@override_settings(CRENEAU_REQUIRE_REAL_KEYS=True, CRENEAU_FIELD_KEYS=[], CRENEAU_BLIND_INDEX_KEY="")
def test_production_refuses_to_start_without_keys() -> None:
    ids = {m.id for m in run_checks()}
    assert "creneau.E101" in ids


@override_settings(CRENEAU_REQUIRE_REAL_KEYS=True)
def test_production_refuses_the_public_development_keys() -> None:
    assert "creneau.E102" in {m.id for m in run_checks()}


@override_settings(
    CRENEAU_REQUIRE_REAL_KEYS=True,
    CRENEAU_FIELD_KEYS=[NEW_KEY],
    CRENEAU_BLIND_INDEX_KEY=base64.b64encode(os.urandom(32)).decode(),
)
def test_production_starts_with_real_keys() -> None:
    assert not {m.id for m in run_checks()} & {"creneau.E101", "creneau.E102", "creneau.E103"}


def test_keys_come_from_a_secret_file(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "field_keys"  # type: ignore[operator]
    secret.write_text("new:" + NEW_KEY[1] + "\nold:" + envkeys.DEV_FIELD_KEYS[0][1] + "\n")
    monkeypatch.delenv("CRENEAU_FIELD_KEYS", raising=False)
    monkeypatch.setenv("CRENEAU_FIELD_KEYS_FILE", str(secret))
    assert [kid for kid, _ in envkeys.field_keys_from_env()] == ["new", "old"]


def test_account_emails_are_encrypted_unique_and_still_sign_in() -> None:
    from django.contrib.auth import authenticate
    from django.db import IntegrityError, transaction

    from creneau.accounts.models import User

    user = User.objects.create_user("camille.durand@example.invalid", "gravier mistral lanterne 47")
    with connection.cursor() as cursor:
        cursor.execute("SELECT email FROM accounts_user WHERE email_bidx = %s", [user.email_bidx])
        (stored,) = cursor.fetchone()
    assert stored.startswith("dev:") and "camille" not in stored
    assert User.objects.by_email(" Camille.Durand@EXAMPLE.invalid").get() == user
    assert authenticate(None, username="CAMILLE.durand@example.invalid", password="gravier mistral lanterne 47") == user
    with pytest.raises(IntegrityError), transaction.atomic():
        User(email="Camille.Durand@example.invalid").save()
    with pytest.raises(EncryptedFieldQueryError):
        User.objects.filter(email="camille.durand@example.invalid").exists()


def test_a_new_patient_has_the_field_defaults_and_is_validated_as_before() -> None:
    from django.core.exceptions import ValidationError

    p = Patient(family_name="Martin", given_name="Léa", birth_date=dt.date(1990, 1, 2))
    assert (p.family_name, p.sex, p.phone, p.city) == ("Martin", "U", "", "")
    p.family_name = "x" * 101
    p.email = "not an address"
    with pytest.raises(ValidationError) as exc:
        p.full_clean(exclude=["account", "created_by_organization"])
    assert {"family_name", "email"} <= set(exc.value.message_dict)


def test_a_control_character_in_an_identity_field_is_a_validation_error(practice: tuple) -> None:
    from creneau.patients.services import patient_update

    org, staff = practice
    p = new_patient(org, staff)
    with pytest.raises(InvalidInput, match="city"):
        patient_update(actor=staff, patient_id=p.pk, city="Lyon\x00")
    assert fresh(p).city == "Lyon"


def test_saving_some_identity_fields_keeps_the_others_and_reindexes(practice: tuple) -> None:
    org, staff = practice
    p = fresh(new_patient(org, staff))
    p.phone = "07 11 22 33 44"
    p.save(update_fields=["phone"])  # type: ignore[misc]  # an encrypted field: the stubs call it not concrete
    again = fresh(p)
    assert (again.phone, again.family_name, again.city) == ("07 11 22 33 44", "Lefèvre-Dupré", "Lyon")
    assert [x.pk for x in patient_search_for_organization(staff, phone="+33711223344")] == [p.pk]
    assert patient_search_for_organization(staff, phone="0612345678") == []


def test_a_reloaded_or_deferred_patient_shows_what_is_stored(practice: tuple) -> None:
    org, staff = practice
    p = fresh(new_patient(org, staff))
    assert p.city == "Lyon"
    elsewhere = fresh(p)
    elsewhere.city = "Grenoble"
    elsewhere.save()
    p.refresh_from_db()
    assert p.city == "Grenoble"
    p.city = "Annecy"
    p.refresh_from_db(fields=["city"])
    assert p.city == "Grenoble"
    assert Patient.objects.only("id").get(pk=p.pk).given_name == "Zoé"
    deferred = Patient.objects.only("id").get(pk=p.pk)
    deferred.city = "Chambéry"
    deferred.save()
    assert (fresh(p).city, fresh(p).given_name) == ("Chambéry", "Zoé")


@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_per_field_tokens_into_one_record_and_back(migrations_as_owner: None) -> None:
    import uuid

    from django.db.migrations.executor import MigrationExecutor

    from creneau.core import clock
    from creneau.core.crypto.aead import associated_data, seal, unseal
    from creneau.core.crypto.blind import blind_index

    identity = {
        "family_name": "Moreau",
        "given_name": "Anaïs",
        "birth_date": "1961-02-03",
        "sex": "F",
        "phone": "+33611223344",
        "email": "anais.moreau@exemple.invalid",
        "address_line": "8 rue Pasteur",
        "postcode": "38000",
        "city": "Grenoble",
    }
    pk = uuid.uuid4()
    db_pk = Patient._meta.pk.get_db_prep_value(pk, connection)
    MigrationExecutor(connection).migrate([("patients", "0002_encrypt_identity")])
    try:
        now = connection.ops.adapt_datetimefield_value(clock.now())
        sealed = [seal(v, aad=associated_data("patients_patient", pk, f)) for f, v in identity.items()]
        indexes = [
            blind_index("email", identity["email"]),
            blind_index("phone", identity["phone"]),
            blind_index("name_birth", identity["family_name"], identity["birth_date"]),
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO patients_patient (id, created_at, updated_at, relationship, {', '.join(identity)}, "
                "email_bidx, phone_bidx, name_birth_bidx) VALUES (%s, %s, %s, 'self', "
                + ", ".join(["%s"] * (len(identity) + 3))
                + ")",
                [db_pk, now, now, *sealed, *indexes],
            )
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    p = Patient.objects.get(pk=pk)
    assert [getattr(p, f) for f in IDENTITY_FIELDS] == [
        dt.date(1961, 2, 3) if f == "birth_date" else v for f, v in identity.items()
    ]
    assert (raw_record(pk) or "").startswith(f"{envkeys.INSECURE_DEV_KEY_ID}:")
    MigrationExecutor(connection).migrate([("patients", "0002_encrypt_identity")])
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(identity)} FROM patients_patient WHERE id = %s", [db_pk])
            row = cursor.fetchone()
        assert [
            unseal(t, aad=associated_data("patients_patient", pk, f)) for f, t in zip(identity, row, strict=True)
        ] == list(identity.values())
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
