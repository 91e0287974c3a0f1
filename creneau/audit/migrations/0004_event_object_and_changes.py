"""Audit events name the non-patient object a write changed and, for an update, what changed.

On SQLite, adding a column with a default rebuilds the table and drops its triggers: they are created
again here, as in 0002."""

from django.db import migrations, models

ACTIONS = [
    ("read", "Read"),
    ("search", "Search or list"),
    ("create", "Create"),
    ("update", "Update"),
    ("cancel", "Cancel"),
    ("export", "Export"),
    ("delete", "Delete"),
    ("suspend", "Suspend"),
    ("alert", "Alert"),
    ("grant", "Grant rights"),
    ("revoke", "Revoke rights"),
    ("sign_in", "Sign in"),
    ("sign_out", "Sign out"),
]


def sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    table = "audit_auditevent"
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")
    schema_editor.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, 'audit_append_only'); END"
    )


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_detection_window")]

    operations = [
        migrations.AddField(
            model_name="auditevent", name="changes", field=models.JSONField(blank=True, default=dict)
        ),
        migrations.AddField(
            model_name="auditevent",
            name="object_id",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="auditevent", name="action", field=models.CharField(choices=ACTIONS, max_length=16)
        ),
        migrations.RunPython(sqlite_triggers, migrations.RunPython.noop),
    ]
