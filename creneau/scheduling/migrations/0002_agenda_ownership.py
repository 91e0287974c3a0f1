"""Visit reasons, opening hours and absences get their agenda (assigned by 0003)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0001_initial"),
        ("directory", "0005_agenda_data"),
        ("booking", "0002_no_overlap"),
    ]

    operations = [
        migrations.AddField(
            model_name="motif",
            name="agenda",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="motifs", to="directory.agenda"
            ),
        ),
        migrations.AddField(
            model_name="openingrule",
            name="agenda",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="opening_rules",
                to="directory.agenda",
            ),
        ),
        migrations.AddField(
            model_name="absence",
            name="agenda",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="absences", to="directory.agenda"
            ),
        ),
    ]
