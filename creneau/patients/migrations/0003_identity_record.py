"""Seal each patient's identity as one record (`identity` column) instead of nine per-field tokens.

Existing rows hold nine v1 tokens (AAD table|pk|field): each batch opens them with whichever configured
key sealed them and writes one v2 record token (AAD table|pk|"identity") under the primary key; the nine
columns then go. Reversible: going back re-creates the per-field tokens from the records."""

import uuid

from django.db import migrations, models

import creneau.core.crypto.fields

IDENTITY = ["family_name", "given_name", "birth_date", "sex", "phone", "email", "address_line", "postcode", "city"]
TABLE = "patients_patient"
BATCH = 500
COLS = ", ".join(IDENTITY)


def _pk(raw):
    return raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))


def _batches(cursor, columns):
    """Rows in pk order, BATCH at a time (keyset pagination: no long-lived server cursor)."""
    last = None
    while True:
        if last is None:
            cursor.execute(f"SELECT id, {columns} FROM {TABLE} ORDER BY id LIMIT {BATCH}")
        else:
            cursor.execute(f"SELECT id, {columns} FROM {TABLE} WHERE id > %s ORDER BY id LIMIT {BATCH}", [last])
        rows = cursor.fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def to_records(apps, schema_editor):
    from creneau.core.crypto.aead import associated_data, record_associated_data, seal_record, unseal

    with schema_editor.connection.cursor() as cursor:
        for rows in list(_batches(cursor, COLS)):
            for row in rows:
                pk = _pk(row[0])
                values = [
                    None if v is None else unseal(v, aad=associated_data(TABLE, pk, f))
                    for f, v in zip(IDENTITY, row[1:], strict=True)
                ]
                token = seal_record(values, aad=record_associated_data(TABLE, pk, "identity"))
                cursor.execute(f"UPDATE {TABLE} SET identity = %s WHERE id = %s", [token, row[0]])


def to_fields(apps, schema_editor):
    from creneau.core.crypto.aead import associated_data, record_associated_data, seal, unseal_record

    sets = ", ".join(f"{f} = %s" for f in IDENTITY)
    with schema_editor.connection.cursor() as cursor:
        for rows in list(_batches(cursor, "identity")):
            for row_id, token in rows:
                pk = _pk(row_id)
                values = unseal_record(token, aad=record_associated_data(TABLE, pk, "identity"))
                values += [None] * (len(IDENTITY) - len(values))
                sealed = [
                    None if v is None else seal(v, aad=associated_data(TABLE, pk, f))
                    for f, v in zip(IDENTITY, values, strict=True)
                ]
                cursor.execute(f"UPDATE {TABLE} SET {sets} WHERE id = %s", [*sealed, row_id])


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0002_encrypt_identity"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="identity",
            field=creneau.core.crypto.fields.SealedRecordField(editable=False, layout=IDENTITY, null=True),
        ),
        # Plain nullable text first (same column type): going back then re-adds the columns empty,
        # refills them, and only then restores NOT NULL and the encrypted field classes.
        *(migrations.AlterField(model_name="patient", name=name, field=models.TextField()) for name in IDENTITY),
        *(
            migrations.AlterField(model_name="patient", name=name, field=models.TextField(null=True))
            for name in IDENTITY
        ),
        migrations.RunPython(to_records, to_fields),
        *(migrations.RemoveField(model_name="patient", name=name) for name in IDENTITY),
        migrations.AlterField(
            model_name="patient",
            name="identity",
            field=creneau.core.crypto.fields.SealedRecordField(editable=False, layout=IDENTITY),
        ),
    ]
