"""Encrypt account emails in place; uniqueness and sign-in lookups move to the email blind index."""

import uuid

import creneau.core.crypto.fields
from django.db import migrations

SELECT_ALL = "SELECT id, email FROM accounts_user"
UPDATE_ONE = "UPDATE accounts_user SET email = %s, email_bidx = %s WHERE id = %s"


def _pk(raw):
    return raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))


def encrypt_emails(apps, schema_editor):
    from creneau.core.crypto.aead import associated_data, seal
    from creneau.core.crypto.blind import blind_index

    with schema_editor.connection.cursor() as cursor:
        cursor.execute(SELECT_ALL)
        for pk, email in cursor.fetchall():
            token = seal(email, aad=associated_data("accounts_user", _pk(pk), "email"))
            cursor.execute(UPDATE_ONE, [token, blind_index("email", email), pk])


def decrypt_emails(apps, schema_editor):
    from creneau.core.crypto.aead import associated_data, unseal

    with schema_editor.connection.cursor() as cursor:
        cursor.execute(SELECT_ALL)
        for pk, token in cursor.fetchall():
            cursor.execute(UPDATE_ONE, [unseal(token, aad=associated_data("accounts_user", _pk(pk), "email")), None, pk])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_mfa"),
    ]

    operations = [
        migrations.AlterField(
            model_name="user",
            name="email",
            field=creneau.core.crypto.fields.EncryptedEmailField(max_length=254, verbose_name="email address"),
        ),
        migrations.AddField(
            model_name="user",
            name="email_bidx",
            field=creneau.core.crypto.fields.BlindIndexField(
                blank=True, db_index=True, editable=False, kind="email", max_length=64, null=True, sources=["email"], unique=True
            ),
        ),
        migrations.RunPython(encrypt_emails, decrypt_emails),
        migrations.AlterField(
            model_name="user",
            name="email_bidx",
            field=creneau.core.crypto.fields.BlindIndexField(
                db_index=True, editable=False, kind="email", max_length=64, sources=["email"], unique=True
            ),
        ),
    ]
