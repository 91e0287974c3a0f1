"""Platform operators in the Django admin: personal fields read-only, and every opened record audited."""

from __future__ import annotations

import pytest
from django.test import Client

from creneau.accounts.models import User
from creneau.audit.models import AuditAccess, AuditEvent

from .personas import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client: Client) -> Client:
    user = User.objects.create_superuser("ops@example.invalid", "correct horse battery 42")
    client.force_login(user)
    return client


def test_opening_a_patient_in_the_admin_is_audited(operator: Client, world: World) -> None:
    page = operator.get(f"/admin/patients/patient/{world.patient.pk}/change/")
    assert page.status_code == 200
    event = AuditEvent.objects.filter(actor_kind="operator", via="admin").get()
    assert (event.action, event.channel, event.object_type) == ("read", "admin", "patient")
    assert AuditAccess.objects.get(event=event).patient_id == world.patient.pk


def test_the_patient_list_shows_no_identity(operator: Client, world: World) -> None:
    page = operator.get("/admin/patients/patient/")
    assert page.status_code == 200
    assert world.patient.family_name not in page.content.decode()


def test_operators_cannot_edit_identity_fields(operator: Client, world: World) -> None:
    r = operator.post(f"/admin/patients/patient/{world.patient.pk}/change/", {"family_name": "Changed"})
    assert r.status_code == 403
    world.patient.refresh_from_db()
    assert world.patient.family_name == "Patiente"


def test_an_operators_change_in_the_admin_is_audited(operator: Client, world: World) -> None:
    motif = world.motif
    page = operator.get(f"/admin/scheduling/motif/{motif.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list)}
    data.update({"name": "Consultation longue", "duration_minutes": 45, "practitioner": str(motif.practitioner_id)})
    r = operator.post(f"/admin/scheduling/motif/{motif.pk}/change/", data)
    assert r.status_code == 302, r.content[:500]
    event = AuditEvent.objects.get(actor_kind="operator", action="update", object_type="motif")
    assert str(motif.pk) in event.via
