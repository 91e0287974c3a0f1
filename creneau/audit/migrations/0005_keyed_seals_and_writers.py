"""Keyed seals, who wrote each event, Ed25519-signed heads, and TRUNCATE refused (docs/audit.md).

PostgreSQL:
- `BEFORE TRUNCATE` statement triggers on every audit table (row triggers do not fire on TRUNCATE);
- a `BEFORE INSERT` trigger on events records the database role that wrote the row (`session_user`),
  whatever the INSERT itself says.
Who may do what (the runtime role: INSERT and SELECT only) is granted by `manage.py migrate`, which knows
the role names (creneau.audit.dbroles).

SQLite has no TRUNCATE and no roles; adding columns rebuilds tables and drops their triggers, so the
append-only triggers of 0002 are created again."""

from django.db import migrations, models

TABLES = ["audit_auditevent", "audit_auditaccess", "audit_auditseal", "audit_auditcheckpoint"]

PG_STAMP = """
CREATE OR REPLACE FUNCTION audit_stamp_writer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.db_role := session_user;
    RETURN NEW;
END $$"""


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
            )
        schema_editor.execute(PG_STAMP)
        schema_editor.execute(
            "CREATE TRIGGER audit_auditevent_writer BEFORE INSERT ON audit_auditevent "
            "FOR EACH ROW EXECUTE FUNCTION audit_stamp_writer()"
        )
    elif vendor == "sqlite":
        for table in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'audit_append_only'); END"
            )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_auditevent_writer ON audit_auditevent")
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_stamp_writer()")


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_event_object_and_changes")]

    operations = [
        migrations.AddField(
            model_name="auditevent", name="writer", field=models.CharField(blank=True, default="", max_length=64)
        ),
        migrations.AddField(
            model_name="auditevent", name="db_role", field=models.CharField(blank=True, default="", max_length=64)
        ),
        migrations.AddField(
            model_name="auditevent", name="mac", field=models.CharField(blank=True, default="", max_length=100)
        ),
        migrations.AddField(
            model_name="auditseal", name="key_id", field=models.CharField(blank=True, default="", max_length=32)
        ),
        migrations.AddField(
            model_name="auditcheckpoint",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.AlterField(model_name="auditcheckpoint", name="signature", field=models.CharField(max_length=128)),
        migrations.RunPython(forward, backward),
    ]
