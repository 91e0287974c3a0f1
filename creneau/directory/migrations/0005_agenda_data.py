"""One agenda per (practitioner, organization) the practitioner works for, from the existing
practitioner-site links. A migration of its own: PostgreSQL must not create 0003's deferred indexes in
a transaction that has changed rows."""

import uuid

from django.db import migrations


def create_agendas(apps, schema_editor):
    Agenda = apps.get_model("directory", "Agenda")
    PractitionerSite = apps.get_model("directory", "PractitionerSite")
    pairs = set(PractitionerSite.objects.values_list("practitioner_id", "site__organization_id"))
    Agenda.objects.bulk_create(
        [Agenda(id=uuid.uuid4(), practitioner_id=p, organization_id=o) for p, o in sorted(pairs)], batch_size=1000
    )



class Migration(migrations.Migration):
    dependencies = [("directory", "0004_agenda")]

    operations = [migrations.RunPython(create_agendas, migrations.RunPython.noop)]
