"""The patient file for staff: a patient known to the organization, with upcoming and past
appointments and the missed ones counted; an audited read; a 404 for anyone else."""

from __future__ import annotations

import pytest

from creneau.audit.models import AuditEvent
from creneau.booking import services
from creneau.booking.models import Status
from creneau.booking.services import SlotRef
from creneau.core import clock

from . import factories as f
from .personas import World
from .web_support import signed_in

pytestmark = pytest.mark.django_db


def test_patient_file_lists_history_and_counts_no_shows(world: World) -> None:
    def book(day: int) -> object:
        return services.appointment_book(
            actor=world.secretary,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, day, 9, 0)),
            patient_id=world.caller.pk,
        )

    missed, kept, later = book(3), book(4), book(20)
    with clock.frozen_at(f.paris(2026, 3, 5, 8, 0)):
        services.appointment_mark(actor=world.secretary, appointment_id=missed.pk, status=Status.NO_SHOW)  # type: ignore[attr-defined]
        services.appointment_mark(actor=world.secretary, appointment_id=kept.pk, status=Status.FULFILLED)  # type: ignore[attr-defined]
        reads = AuditEvent.objects.count()
        response = signed_in(world.secretary.user).get(f"/en/practice/patients/{world.caller.pk}/")
        assert AuditEvent.objects.count() > reads  # the read is in the trail
    html = response.content.decode()
    assert response.status_code == 200 and "APPELANT Paul" in html
    assert '<strong class="no-shows">1</strong>' in html
    upcoming = html[html.index("Upcoming appointments") : html.index("History")]
    assert "20 Mar 2026" in upcoming and "3 Mar 2026" not in upcoming
    history = html[html.index("History") :]
    assert "No-show" in history and "Fulfilled" in history
    assert f"/practice/appointments/{later.pk}/" in html  # type: ignore[attr-defined]


def test_patient_file_is_a_404_outside_the_organization(world: World) -> None:
    url = f"/practice/patients/{world.caller.pk}/"
    assert signed_in(world.outsider.user).get(url).status_code == 404
    assert signed_in(world.user).get(url).status_code == 404
    assert signed_in(world.secretary.user).get("/practice/patients/not-an-id/").status_code == 404
