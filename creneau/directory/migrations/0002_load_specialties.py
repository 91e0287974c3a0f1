from django.db import migrations


def load(apps, schema_editor):
    from creneau.directory.nomenclature import specialty_rows

    Specialty = apps.get_model("directory", "Specialty")
    for row in specialty_rows():
        Specialty.objects.update_or_create(
            code=row["code"], defaults={"label_fr": row["label_fr"], "label_en": row["label_en"], "slug": row["slug"]}
        )


class Migration(migrations.Migration):
    dependencies = [("directory", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
