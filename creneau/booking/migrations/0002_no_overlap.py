"""No double booking, enforced by the database itself.

PostgreSQL: an exclusion constraint over (practitioner, [start, busy_until)) for every row that is not
cancelled. SQLite: triggers that abort an insert or update creating such an overlap; the writing
transaction is BEGIN IMMEDIATE (settings), so check and insert cannot interleave with another writer.
Both raise IntegrityError, which the booking service turns into a conflict."""

from django.db import migrations

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """ALTER TABLE booking_appointment ADD CONSTRAINT appointment_no_overlap
       EXCLUDE USING gist (practitioner_id WITH =, tstzrange(start_at, busy_until, '[)') WITH &&)
       WHERE (status <> 'cancelled')""",
]
PG_BACKWARD = ["ALTER TABLE booking_appointment DROP CONSTRAINT appointment_no_overlap"]

_SQLITE_CHECK = """
    WHEN NEW.status <> 'cancelled' AND EXISTS (
        SELECT 1 FROM booking_appointment o
        WHERE o.practitioner_id = NEW.practitioner_id AND o.id <> NEW.id AND o.status <> 'cancelled'
          AND o.start_at < NEW.busy_until AND NEW.start_at < o.busy_until)
    BEGIN SELECT RAISE(ABORT, 'appointment_no_overlap'); END"""
SQLITE_FORWARD = [
    "CREATE TRIGGER appointment_no_overlap_insert BEFORE INSERT ON booking_appointment" + _SQLITE_CHECK,
    "CREATE TRIGGER appointment_no_overlap_update BEFORE UPDATE OF start_at, busy_until, status, practitioner_id"
    " ON booking_appointment" + _SQLITE_CHECK,
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS appointment_no_overlap_insert",
    "DROP TRIGGER IF EXISTS appointment_no_overlap_update",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("booking", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
