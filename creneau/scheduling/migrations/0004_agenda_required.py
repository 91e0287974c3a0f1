"""Every visit reason, opening hours and absence now has its agenda (0003 assigned them); its own
migration, so PostgreSQL alters the columns after the data changes have committed."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0003_agenda_data")]

    operations = [
        migrations.AlterField(
            model_name="motif",
            name="agenda",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="motifs", to="directory.agenda"
            ),
        ),
        migrations.AlterField(
            model_name="openingrule",
            name="agenda",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="opening_rules", to="directory.agenda"
            ),
        ),
        migrations.AlterField(
            model_name="absence",
            name="agenda",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="absences", to="directory.agenda"
            ),
        ),
    ]
