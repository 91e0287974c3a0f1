"""Per-agenda rights of staff members (existing secretaries are granted theirs by 0005)."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_encrypt_email"), ("directory", "0005_agenda_data")]

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
    ]
