"""Encrypt the identity columns in place and add the blind indexes.

Existing rows hold plaintext: after the columns become text, each row is read with a fixed query,
sealed with the current primary key (associated data = table, row id, field) and written back."""

import uuid

from django.db import migrations

import creneau.core.crypto.fields

IDENTITY = ["family_name", "given_name", "birth_date", "sex", "phone", "email", "address_line", "postcode", "city"]
TABLE = "patients_patient"

SELECT_ALL = (
    "SELECT id, family_name, given_name, birth_date, sex, phone, email, address_line, postcode, city "
    "FROM patients_patient"
)
UPDATE_ONE = (
    "UPDATE patients_patient SET family_name = %s, given_name = %s, birth_date = %s, sex = %s, phone = %s, "
    "email = %s, address_line = %s, postcode = %s, city = %s, email_bidx = %s, phone_bidx = %s, "
    "name_birth_bidx = %s WHERE id = %s"
)


def _pk(raw):
    return raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))


def encrypt_rows(apps, schema_editor):
    from creneau.core.crypto.aead import associated_data, seal
    from creneau.core.crypto.blind import blind_index

    with schema_editor.connection.cursor() as cursor:
        cursor.execute(SELECT_ALL)
        rows = cursor.fetchall()
        for row in rows:
            pk = _pk(row[0])
            values = dict(zip(IDENTITY, row[1:], strict=True))
            values["birth_date"] = str(values["birth_date"])[:10] if values["birth_date"] is not None else None
            sealed = [
                None if values[f] is None else seal(str(values[f]), aad=associated_data(TABLE, pk, f)) for f in IDENTITY
            ]
            indexes = [
                blind_index("email", values["email"]),
                blind_index("phone", values["phone"]),
                blind_index("name_birth", values["family_name"], values["birth_date"]),
            ]
            cursor.execute(UPDATE_ONE, [*sealed, *indexes, row[0]])


def decrypt_rows(apps, schema_editor):
    from creneau.core.crypto.aead import associated_data, unseal

    with schema_editor.connection.cursor() as cursor:
        cursor.execute(SELECT_ALL)
        for row in cursor.fetchall():
            pk = _pk(row[0])
            plain = [
                None if v is None else unseal(v, aad=associated_data(TABLE, pk, f))
                for f, v in zip(IDENTITY, row[1:], strict=True)
            ]
            cursor.execute(UPDATE_ONE, [*plain, None, None, None, row[0]])


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="patient",
            name="family_name",
            field=creneau.core.crypto.fields.EncryptedCharField(max_length=100, verbose_name="family name"),
        ),
        migrations.AlterField(
            model_name="patient",
            name="given_name",
            field=creneau.core.crypto.fields.EncryptedCharField(max_length=100, verbose_name="given name"),
        ),
        migrations.AlterField(
            model_name="patient",
            name="birth_date",
            field=creneau.core.crypto.fields.EncryptedDateField(verbose_name="date of birth"),
        ),
        migrations.AlterField(
            model_name="patient",
            name="sex",
            field=creneau.core.crypto.fields.EncryptedCharField(
                choices=[("F", "Female"), ("M", "Male"), ("X", "Other"), ("U", "Not stated")],
                default="U",
                max_length=1,
                verbose_name="sex",
            ),
        ),
        migrations.AlterField(
            model_name="patient",
            name="phone",
            field=creneau.core.crypto.fields.EncryptedCharField(blank=True, max_length=20, verbose_name="phone"),
        ),
        migrations.AlterField(
            model_name="patient",
            name="email",
            field=creneau.core.crypto.fields.EncryptedEmailField(blank=True, max_length=254, verbose_name="email"),
        ),
        migrations.AlterField(
            model_name="patient",
            name="address_line",
            field=creneau.core.crypto.fields.EncryptedCharField(blank=True, max_length=250, verbose_name="address"),
        ),
        migrations.AlterField(
            model_name="patient",
            name="postcode",
            field=creneau.core.crypto.fields.EncryptedCharField(blank=True, max_length=10, verbose_name="postcode"),
        ),
        migrations.AlterField(
            model_name="patient",
            name="city",
            field=creneau.core.crypto.fields.EncryptedCharField(blank=True, max_length=120, verbose_name="city"),
        ),
        migrations.AddField(
            model_name="patient",
            name="email_bidx",
            field=creneau.core.crypto.fields.BlindIndexField(
                blank=True, db_index=True, editable=False, kind="email", max_length=64, null=True, sources=["email"]
            ),
        ),
        migrations.AddField(
            model_name="patient",
            name="phone_bidx",
            field=creneau.core.crypto.fields.BlindIndexField(
                blank=True, db_index=True, editable=False, kind="phone", max_length=64, null=True, sources=["phone"]
            ),
        ),
        migrations.AddField(
            model_name="patient",
            name="name_birth_bidx",
            field=creneau.core.crypto.fields.BlindIndexField(
                blank=True,
                db_index=True,
                editable=False,
                kind="name_birth",
                max_length=64,
                null=True,
                sources=["family_name", "birth_date"],
            ),
        ),
        migrations.RunPython(encrypt_rows, decrypt_rows),
    ]
