"""Agendas: a practitioner's calendar within one organization, one per (practitioner, organization)
the practitioner works for (from the existing practitioner-site links)."""

import uuid

import django.db.models.deletion
from django.db import migrations, models


def create_agendas(apps, schema_editor):
    Agenda = apps.get_model("directory", "Agenda")
    PractitionerSite = apps.get_model("directory", "PractitionerSite")
    pairs = set(PractitionerSite.objects.values_list("practitioner_id", "site__organization_id"))
    Agenda.objects.bulk_create(
        [Agenda(id=uuid.uuid4(), practitioner_id=p, organization_id=o) for p, o in sorted(pairs)], batch_size=1000
    )


class Migration(migrations.Migration):
    dependencies = [("directory", "0002_load_specialties")]

    operations = [
        migrations.CreateModel(
            name="Agenda",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("is_active", models.BooleanField(default=True)),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="agendas",
                        to="directory.organization",
                    ),
                ),
                (
                    "practitioner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="agendas",
                        to="directory.practitioner",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization", "practitioner"), name="agenda_unique_per_organization"
                    )
                ]
            },
        ),
        migrations.RunPython(create_agendas, migrations.RunPython.noop),
    ]
