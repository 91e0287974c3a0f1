"""Search by any part of the name and by birth date, identities staying encrypted.

Adds `Patient.birth_bidx` (HMAC of the birth date) and `PatientNameGram` (keyed digests of the names'
2- and 3-letter fragments), then fills both for existing rows: each batch opens the identity records
with the configured keys (as 0003 does) and writes digests only, never plaintext. Reversible: going back
drops the column and the table."""

import uuid

import django.db.models.deletion
from django.db import migrations, models

import creneau.core.crypto.fields

TABLE = "patients_patient"
BATCH = 500
LAYOUT = ["family_name", "given_name", "birth_date", "sex", "phone", "email", "address_line", "postcode", "city"]


def _pk(raw):
    return raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))


def backfill(apps, schema_editor):
    from creneau.core.crypto.aead import record_associated_data, unseal_record
    from creneau.core.crypto.blind import blind_index, name_grams

    Gram = apps.get_model("patients", "PatientNameGram")
    last = None
    with schema_editor.connection.cursor() as cursor:
        while True:
            if last is None:
                cursor.execute(f"SELECT id, identity FROM {TABLE} ORDER BY id LIMIT {BATCH}")
            else:
                cursor.execute(f"SELECT id, identity FROM {TABLE} WHERE id > %s ORDER BY id LIMIT {BATCH}", [last])
            rows = cursor.fetchall()
            if not rows:
                return
            last = rows[-1][0]
            grams = []
            for row_id, token in rows:
                if not token:
                    continue
                pk = _pk(row_id)
                values = unseal_record(token, aad=record_associated_data(TABLE, pk, "identity"))
                values += [None] * (len(LAYOUT) - len(values))
                record = dict(zip(LAYOUT, values, strict=True))
                cursor.execute(
                    f"UPDATE {TABLE} SET birth_bidx = %s WHERE id = %s",
                    [blind_index("birth", record["birth_date"]), row_id],
                )
                grams += [Gram(patient_id=pk, digest=d) for d in name_grams(record["family_name"], record["given_name"])]
            Gram.objects.bulk_create(grams, batch_size=1000, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0004_phone_verification"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="birth_bidx",
            field=creneau.core.crypto.fields.BlindIndexField(
                blank=True,
                db_index=True,
                editable=False,
                kind="birth",
                max_length=64,
                null=True,
                sources=["birth_date"],
            ),
        ),
        migrations.CreateModel(
            name="PatientNameGram",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("digest", models.CharField(max_length=16)),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="patients.patient"
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["patient"], name="patient_name_gram_patient")],
                "constraints": [models.UniqueConstraint(fields=("digest", "patient"), name="patient_name_gram_unique")],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
    ]
