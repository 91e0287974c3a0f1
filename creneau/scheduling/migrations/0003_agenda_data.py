"""Visit reasons, opening hours and absences belong to an agenda (practitioner × organization).

Existing rows: opening hours go to the agenda of their site's organization. A visit reason or absence
of a practitioner working for several organizations is copied into each of their agendas, so no
organization loses what it saw; appointments and opening hours that used a visit reason in another
organization point to that organization's copy."""

import uuid

from django.db import migrations

MOTIF_COPY = [
    "name",
    "duration_minutes",
    "buffer_minutes",
    "audience",
    "channel",
    "min_notice_minutes",
    "max_horizon_days",
    "bookable_online",
    "is_active",
    "position",
]


def assign(apps, schema_editor):
    Agenda = apps.get_model("directory", "Agenda")
    Motif = apps.get_model("scheduling", "Motif")
    OpeningRule = apps.get_model("scheduling", "OpeningRule")
    Absence = apps.get_model("scheduling", "Absence")
    Appointment = apps.get_model("booking", "Appointment")
    AvailabilityIndex = apps.get_model("scheduling", "AvailabilityIndex")
    by_practitioner: dict = {}
    for aid, pid, oid in Agenda.objects.order_by("created_at", "pk").values_list("pk", "practitioner_id", "organization_id"):
        by_practitioner.setdefault(pid, []).append((aid, oid))
    agenda_of = {(pid, oid): aid for pid, pairs in by_practitioner.items() for aid, oid in pairs}
    for rule in OpeningRule.objects.select_related("site"):
        key = (rule.practitioner_id, rule.site.organization_id)
        if key not in agenda_of:
            agenda_of[key] = Agenda.objects.create(
                id=uuid.uuid4(), practitioner_id=key[0], organization_id=key[1]
            ).pk
            by_practitioner.setdefault(key[0], []).append((agenda_of[key], key[1]))
        rule.agenda_id = agenda_of[key]
        rule.save(update_fields=["agenda"])
    for motif in Motif.objects.all():
        pairs = by_practitioner.get(motif.practitioner_id, [])
        if not pairs:
            continue  # a practitioner at no site: deleted below with its orphan settings
        (first, _org), *others = pairs
        motif.agenda_id = first
        motif.save(update_fields=["agenda"])
        for aid, oid in others:
            copy = Motif.objects.create(
                id=uuid.uuid4(),
                agenda_id=aid,
                practitioner_id=motif.practitioner_id,
                **{f: getattr(motif, f) for f in MOTIF_COPY},
            )
            Appointment.objects.filter(motif_id=motif.pk, organization_id=oid).update(motif_id=copy.pk)
            for rule in OpeningRule.objects.filter(agenda_id=aid, motifs=motif):
                rule.motifs.remove(motif)
                rule.motifs.add(copy)
    for absence in Absence.objects.all():
        pairs = by_practitioner.get(absence.practitioner_id, [])
        if not pairs:
            continue
        (first, _org), *others = pairs
        absence.agenda_id = first
        absence.save(update_fields=["agenda"])
        for aid, _oid in others:
            Absence.objects.create(
                id=uuid.uuid4(),
                agenda_id=aid,
                practitioner_id=absence.practitioner_id,
                start_at=absence.start_at,
                end_at=absence.end_at,
                label=absence.label,
            )
    # Settings of practitioners who work nowhere cannot belong to an agenda; the index is rebuilt anyway.
    AvailabilityIndex.objects.all().delete()
    Absence.objects.filter(agenda__isnull=True).delete()
    OpeningRule.objects.filter(agenda__isnull=True).delete()
    Motif.objects.filter(agenda__isnull=True).exclude(
        pk__in=Appointment.objects.values("motif_id")
    ).delete()



class Migration(migrations.Migration):
    dependencies = [("scheduling", "0002_agenda_ownership"), ("booking", "0002_no_overlap")]

    operations = [migrations.RunPython(assign, migrations.RunPython.noop)]
