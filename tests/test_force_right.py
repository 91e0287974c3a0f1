"""Forcing a booking is a right of its own (`AgendaRight.FORCE`): organization admins grant it per
agenda from the team page; managing an agenda does not give it; without it a forced booking is
refused with a clear message and nothing changes."""

from __future__ import annotations

import pytest

from creneau.accounts.models import AgendaAccess, Membership, Role
from creneau.accounts.selectors import staff_actor
from creneau.audit.models import AuditEvent
from creneau.booking import services
from creneau.booking.models import Appointment
from creneau.booking.services import SlotRef
from creneau.core.actors import AgendaRight
from creneau.core.errors import PermissionDenied

from . import factories as f
from .personas import World
from .web_support import signed_in, stamp

pytestmark = pytest.mark.django_db


def _slot(world: World) -> SlotRef:
    return SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 3, 19, 0))  # outside hours


def test_managing_an_agenda_does_not_give_the_right_to_force(world: World) -> None:
    manager = f.staff(world.org, all_agendas=False)
    f.grant(f.user_of(manager), world.agenda, book=True, manage=True)
    manager = staff_actor(f.user_of(manager))
    assert AgendaRight.MANAGE in manager.agenda_rights(organization_id=world.org.pk, practitioner_id=world.doc.pk)
    before = Appointment.objects.count(), AuditEvent.objects.filter(via="appointment_force").count()
    with pytest.raises(PermissionDenied, match=r"right to force bookings|droit de forcer"):
        services.appointment_force(actor=manager, slot=_slot(world), patient_id=world.caller.pk, reason="Urgence")
    assert (Appointment.objects.count(), AuditEvent.objects.filter(via="appointment_force").count()) == before


def test_the_booking_page_refuses_a_forced_booking_without_the_right_and_offers_no_force(world: World) -> None:
    manager = f.staff(world.org, all_agendas=False)
    f.grant(f.user_of(manager), world.agenda, book=True, manage=True)
    client = signed_in(f.user_of(manager))
    url = f"/en/practice/agenda/{world.agenda.pk}/book/"
    slot = {"motif": str(world.motif.pk), "site": str(world.site.pk), "start": stamp(f.paris(2026, 3, 3, 19, 0))}
    post = {**slot, "action": "force", "patient": str(world.caller.pk), "reason": "Urgence", "confirm": "yes"}
    refused = client.post(url, post)
    assert refused.status_code == 403 and "right to force bookings" in refused.content.decode()
    assert not Appointment.objects.filter(is_forced=True).exists()
    agenda = client.get(f"/en/practice/agenda/{world.agenda.pk}/").content.decode()
    assert "Book at any time (forced)" not in agenda
    fr = signed_in(f.user_of(manager)).post(url.removeprefix("/en"), post).content.decode()
    assert "le droit de forcer des rendez-vous" in fr


def test_an_admin_grants_the_right_from_the_team_page_and_then_forcing_works(world: World) -> None:
    admin = f.staff(world.org, Role.ORG_ADMIN)
    member = f.staff(world.org, all_agendas=False)
    f.grant(f.user_of(member), world.agenda, book=True, manage=False)
    membership = Membership.objects.get(user=f.user_of(member), organization=world.org)
    page = signed_in(f.user_of(admin)).get(f"/en/practice/team/members/{membership.pk}/").content.decode()
    assert f'name="force_{world.agenda.pk}"' in page and "Force bookings" in page
    response = signed_in(f.user_of(admin)).post(
        f"/en/practice/team/members/{membership.pk}/",
        {
            "action": "rights",
            f"view_{world.agenda.pk}": "on",
            f"book_{world.agenda.pk}": "on",
            f"force_{world.agenda.pk}": "on",
        },
    )
    assert response.status_code == 302
    access = AgendaAccess.objects.get(user=f.user_of(member), agenda=world.agenda)
    assert access.can_force and access.can_book and not access.can_manage
    assert AuditEvent.objects.filter(via="agenda_rights_set").exists()
    forced = services.appointment_force(
        actor=staff_actor(f.user_of(member)), slot=_slot(world), patient_id=world.caller.pk, reason="Urgence"
    )
    assert forced.is_forced


def test_force_without_book_is_dropped(world: World) -> None:
    from creneau.accounts.team import AgendaRights

    assert AgendaRights(view=True, book=False, force=True).normalized() == AgendaRights(view=True)


def test_admins_and_the_practitioner_on_their_own_agenda_hold_the_right(world: World) -> None:
    admin = f.staff(world.org, Role.ORG_ADMIN)
    assert AgendaRight.FORCE in admin.agenda_rights(organization_id=world.org.pk, practitioner_id=world.doc.pk)
    doc_user = f.staff(world.org, Role.PRACTITIONER, practitioner=world.doc)
    assert AgendaRight.FORCE in doc_user.agenda_rights(organization_id=world.org.pk, practitioner_id=world.doc.pk)
