from django.db import migrations, models


def fill(apps, schema_editor):
    from creneau.directory.models import practitioner_name_key
    from creneau.directory.nomenclature import specialty_rows

    Specialty = apps.get_model("directory", "Specialty")
    for row in specialty_rows():
        Specialty.objects.update_or_create(
            code=row["code"], defaults={"label_fr": row["label_fr"], "label_en": row["label_en"], "slug": row["slug"]}
        )
    Practitioner = apps.get_model("directory", "Practitioner")
    batch = []
    for p in Practitioner.objects.only("pk", "given_name", "family_name").iterator():
        p.name_key = practitioner_name_key(p.given_name, p.family_name)
        batch.append(p)
        if len(batch) >= 500:
            Practitioner.objects.bulk_update(batch, ["name_key"])
            batch = []
    if batch:
        Practitioner.objects.bulk_update(batch, ["name_key"])


class Migration(migrations.Migration):
    dependencies = [("directory", "0002_load_specialties")]
    operations = [
        migrations.AddField(
            model_name="practitioner",
            name="convention_sector",
            field=models.CharField(
                blank=True,
                choices=[
                    ("1", "Sector 1 (contracted fees)"),
                    ("2", "Sector 2 (fees above the contracted rate)"),
                    ("3", "Not contracted with the health insurance"),
                ],
                default="",
                max_length=1,
                verbose_name="convention sector",
            ),
        ),
        migrations.AddField(
            model_name="practitioner",
            name="name_key",
            field=models.CharField(blank=True, db_index=True, default="", editable=False, max_length=220),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
