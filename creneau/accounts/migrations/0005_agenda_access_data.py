"""Per-agenda rights. Secretaries keep what they had (every agenda of their organizations); practitioners
keep their own agenda through their role, and lose colleagues' agendas unless an admin grants them."""

import uuid

from django.db import migrations


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
    dependencies = [("accounts", "0004_agenda_access")]

    operations = [migrations.RunPython(grant_secretaries, migrations.RunPython.noop)]
