"""Extraction detection: crawlers are stopped within a few dozen or hundred records, normal work is not."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from pytest_django.fixtures import Settings

from creneau.audit.models import DetectionAlert, SuspendedPrincipal
from creneau.booking import selectors as booking_selectors
from creneau.booking import services
from creneau.booking.services import SlotRef
from creneau.core import clock
from creneau.core.errors import NotFound, PermissionDenied
from creneau.incidents.models import Incident, IncidentExposure
from creneau.incidents.services import incident_scope
from creneau.patients.services import patient_create_for_organization

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db


def test_a_patient_account_guessing_appointment_ids_is_suspended(world: World) -> None:
    """The 2020 attack through the web: a patient account requesting ids that are not its own."""
    user, actor = world.user, world.patient_actor
    limit = 40  # settings: patient suspend_not_found
    answers = []
    for _ in range(limit + 10):
        try:
            booking_selectors.access_appointment(actor, uuid.uuid4())
        except (NotFound, PermissionDenied) as exc:
            answers.append(type(exc).__name__)
    # Exactly `limit` guesses get an answer; every request after that is refused.
    assert answers == ["NotFound"] * limit + ["PermissionDenied"] * 10
    user.refresh_from_db()
    assert not user.is_active
    assert SuspendedPrincipal.objects.filter(principal=actor.key).exists()
    assert DetectionAlert.objects.filter(principal=actor.key, rule="enumeration", suspended=True).exists()
    incident = Incident.objects.get(principal=actor.key)
    assert incident.scope["counts"]["patients"] == 0  # it guessed nothing: nothing was exposed


def _phone_bookings(w: World, n: int) -> list:
    """n phone callers booked over the coming days (15-minute motif, 12 a day)."""
    quick = f.motif(w.doc, minutes=15, name="Rapide")
    appts = []
    for i in range(n):
        caller = patient_create_for_organization(
            actor=w.secretary,
            organization_id=w.org.pk,
            family_name="Appelant",
            given_name=f"N{i}",
            birth_date=dt.date(1960, 1, 1) + dt.timedelta(days=i),
        )
        day, slot = divmod(i, 12)
        start = f.paris(2026, 3, 3, 9, 0) + dt.timedelta(days=day, minutes=15 * slot)
        appts.append(
            services.appointment_book(
                actor=w.secretary, patient_id=caller.pk, slot=SlotRef(w.doc.pk, quick.pk, w.site.pk, start)
            )
        )
    return appts


def test_a_staff_account_reading_too_many_patients_is_suspended_and_the_scope_is_exact(
    world: World, settings: Settings
) -> None:
    appts = _phone_bookings(world, 40)
    settings.CRENEAU_DETECTION = {
        **settings.CRENEAU_DETECTION,
        "limits": {
            **settings.CRENEAU_DETECTION["limits"],
            "staff": {"alert_patients": 10, "suspend_patients": 25, "alert_not_found": 60, "suspend_not_found": 200},
        },
    }
    start = clock.now()
    with clock.frozen_at(start + dt.timedelta(hours=2)):
        crawler = f.staff(world.org)
        received = set()
        for a in appts:
            try:
                got = booking_selectors.access_appointment(crawler, a.pk)
            except PermissionDenied:
                break
            received.add((got.pk, got.patient_id))
        assert len(received) == 25
        alerts = DetectionAlert.objects.filter(principal=crawler.key).order_by("id")
        assert [(x.severity, x.suspended) for x in alerts] == [("warning", False), ("critical", True)]
        incident = Incident.objects.get(principal=crawler.key)
        assert set(incident.scope["appointments"]) == {str(a) for a, _p in received}
        assert set(IncidentExposure.objects.filter(incident=incident).values_list("patient_id", flat=True)) == {
            p for _a, p in received
        }
        scope = incident_scope(principal=crawler.key, start=start, end=clock.now() + dt.timedelta(minutes=1))
        assert scope.appointments == {a for a, _p in received}


def test_a_secretarys_normal_day_raises_no_alert(world: World) -> None:
    """Forty phone bookings, then the day's agenda many times and each caller's appointment opened."""
    appts = _phone_bookings(world, 40)
    sec = world.secretary
    with clock.frozen_at(f.paris(2026, 3, 3, 8, 0)):
        for hour in range(10):
            with clock.frozen_at(f.paris(2026, 3, 3, 8 + hour, 0)):
                booking_selectors.agenda(
                    sec, practitioner_id=world.doc.pk, start=f.paris(2026, 3, 3), end=f.paris(2026, 3, 7)
                )
        for a in appts:
            booking_selectors.access_appointment(sec, a.pk)
    assert not DetectionAlert.objects.filter(principal=sec.key).exists()
    assert not SuspendedPrincipal.objects.exists()


def test_staff_access_at_night_is_flagged_without_suspension(world: World) -> None:
    appts = _phone_bookings(world, 1)
    with clock.frozen_at(f.paris(2026, 3, 3, 23, 30)):
        booking_selectors.access_appointment(world.secretary, appts[0].pk)
    alert = DetectionAlert.objects.get(principal=world.secretary.key)
    assert (alert.rule, alert.severity, alert.suspended) == ("unusual-hours", "info", False)
