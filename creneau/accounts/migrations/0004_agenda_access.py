"""Per-agenda rights. Secretaries keep what they had (every agenda of their organizations); practitioners
keep their own agenda through their role, and lose colleagues' agendas unless an admin grants them."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def grant_secretaries(apps, schema_editor):
    Membership = apps.get_model("accounts", "Membership")
    Agenda = apps.get_model("directory", "Agenda")
    AgendaAccess = apps.get_model("accounts", "AgendaAccess")
    rows = []
    for user_id, org_id in Membership.objects.filter(role="secretary").values_list("user_id", "organization_id"):
        for agenda_id in Agenda.objects.filter(organization_id=org_id).values_list("pk", flat=True):
            rows.append(
                AgendaAccess(
                    id=uuid.uuid4(), user_id=user_id, agenda_id=agenda_id, can_view=True, can_book=True, can_manage=True
                )
            )
    AgendaAccess.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_encrypt_email"), ("directory", "0003_agenda")]

    operations = [
        migrations.CreateModel(
            name="AgendaAccess",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("can_view", models.BooleanField(default=True, verbose_name="see the agenda")),
                ("can_book", models.BooleanField(default=False, verbose_name="book, move, cancel, mark")),
                (
                    "can_manage",
                    models.BooleanField(default=False, verbose_name="manage visit reasons, hours and absences"),
                ),
                (
                    "agenda",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="accesses", to="directory.agenda"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="agenda_accesses",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("user", "agenda"), name="agenda_access_unique"),
                    models.CheckConstraint(
                        condition=models.Q(("can_view", True))
                        | models.Q(("can_book", False), ("can_manage", False)),
                        name="agenda_access_view_first",
                    ),
                ]
            },
        ),
        migrations.RunPython(grant_secretaries, migrations.RunPython.noop),
    ]
