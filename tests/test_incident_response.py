"""Incident response: who is alerted, who is told, and what the patient sees."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid

import pytest
from django.core import mail
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from creneau.accounts.models import Role
from creneau.booking import selectors as booking_selectors
from creneau.booking import services
from creneau.booking.services import SlotRef
from creneau.core.actors import Actor
from creneau.core.errors import NotFound, PermissionDenied
from creneau.incidents.models import Incident
from creneau.incidents.selectors import incidents_affecting_account
from creneau.incidents.services import authority_report, incident_notify_patients, incident_open
from creneau.privacy.selectors import access_journal

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db


def test_suspension_alerts_the_security_contact_and_the_organization_admins(
    world: World, settings: Settings, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    admin = f.staff(world.org, Role.ORG_ADMIN)
    settings.CRENEAU_DETECTION = {
        **settings.CRENEAU_DETECTION,
        "limits": {
            **settings.CRENEAU_DETECTION["limits"],
            "staff": {"alert_patients": 100, "suspend_patients": 100, "alert_not_found": 3, "suspend_not_found": 5},
        },
    }
    crawler = f.staff(world.org)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(6):
            with contextlib.suppress(NotFound, PermissionDenied):
                booking_selectors.access_appointment(crawler, uuid.uuid4())
    subjects = [m.subject for m in mail.outbox]
    assert any("enumeration (warning)" in s for s in subjects)
    critical = next(m for m in mail.outbox if "critical" in m.subject)
    assert settings.CRENEAU_SECURITY_CONTACT in critical.to and f.user_of(admin).email in critical.to
    assert "suspended" in critical.body


def test_patients_are_told_and_see_the_incident_on_their_account(world: World) -> None:
    appt = services.appointment_book(
        actor=world.patient_actor,
        patient_id=world.patient.pk,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 3, 9, 0)),
    )
    from creneau.core import clock

    start = f.paris(2026, 3, 2, 8, 0)
    with clock.frozen_at(start + dt.timedelta(minutes=1)):
        booking_selectors.access_appointment(world.secretary, appt.pk)
    incident = incident_open(
        actor=Actor.system(), principal=world.secretary.key, start=start, end=start + dt.timedelta(minutes=5)
    )
    assert incident.scope["counts"] == {"patients": 1, "appointments": 1, "organizations": 1}
    assert "People concerned: 1" in authority_report(incident)
    assert incident_notify_patients(actor=Actor.system(), incident_id=incident.pk) == 1
    from creneau.notifications.models import OutboundMessage

    notice = OutboundMessage.objects.get(kind="incident_notice")
    assert notice.user_id == world.user.pk
    assert world.patient.family_name not in notice.subject
    exposures = incidents_affecting_account(world.patient_actor)
    assert [e.incident_id for e in exposures] == [incident.pk]
    assert Incident.objects.get(pk=incident.pk).patients_notified_at is not None
    assert access_journal(world.patient_actor)  # the secretary's read is in the journal too


def test_only_operators_open_incidents(world: World) -> None:
    with pytest.raises(PermissionDenied):
        incident_open(actor=world.secretary, principal="client:x", start=f.paris(2026, 3, 1), end=f.paris(2026, 3, 2))
