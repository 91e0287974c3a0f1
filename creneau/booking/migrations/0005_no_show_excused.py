"""A no-show the practice excused (`no_show_excused`), shown apart in the patient file.

SQLite cannot add a NOT NULL column in place: Django rebuilds the table, which drops the no-overlap
triggers of 0002/0003. They are created again right after (and again after the column goes, when
migrating back); PostgreSQL's exclusion constraint is untouched by ADD COLUMN."""

import importlib

from django.db import migrations, models

_forced = importlib.import_module("creneau.booking.migrations.0003_forced")


def recreate_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in _forced.SQLITE_FORWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("booking", "0004_appointment_answers")]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, recreate_triggers),
        migrations.AddField(
            model_name="appointment",
            name="no_show_excused",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(recreate_triggers, migrations.RunPython.noop),
    ]
