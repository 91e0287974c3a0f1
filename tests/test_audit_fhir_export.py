from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle

from creneau.booking import selectors as booking_selectors
from creneau.booking import services
from creneau.booking.services import SlotRef

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db


def test_an_organizations_audit_trail_exports_as_valid_fhir_audit_events(world: World) -> None:
    appt = services.appointment_book(
        actor=world.patient_actor,
        patient_id=world.patient.pk,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 3, 9, 0)),
    )
    booking_selectors.access_appointment(world.secretary, appt.pk)
    out = io.StringIO()
    call_command(
        "audit_export_fhir",
        organization=str(world.org.pk),
        start="2026-03-01T00:00+01:00",
        end="2026-03-05T00:00+01:00",
        stdout=out,
    )
    bundle = Bundle.model_validate(json.loads(out.getvalue()))
    events = [e.resource for e in bundle.entry or []]
    reads = [e for e in events if isinstance(e, AuditEvent) and e.action == "R"]
    who = reads[-1].agent[0].who if reads else None
    assert who is not None and who.identifier is not None and who.identifier.value == world.secretary.key
    touched = {x.what.reference for x in reads[-1].entity or [] if x.what is not None}
    assert touched == {f"Appointment/{appt.pk}", f"Patient/{world.patient.pk}"}
    assert world.patient.family_name not in out.getvalue()


def test_the_other_organizations_trail_is_not_included(world: World) -> None:
    services.appointment_book(
        actor=world.patient_actor,
        patient_id=world.patient.pk,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 3, 9, 0)),
    )
    out = io.StringIO()
    call_command(
        "audit_export_fhir",
        organization=str(world.other_org.pk),
        start="2026-03-01T00:00+01:00",
        end="2026-03-05T00:00+01:00",
        stdout=out,
    )
    assert json.loads(out.getvalue()).get("entry", []) == []


def test_bad_arguments_get_a_clear_error(world: World) -> None:
    with pytest.raises(CommandError, match="UUID"):
        call_command("audit_export_fhir", organization="x", start="2026-03-01", end="2026-03-02")
