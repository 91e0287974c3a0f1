"""Small builders for test data: explicit, no magic, one line per object in a test."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

from creneau.accounts.models import AgendaAccess, Membership, Role, User
from creneau.accounts.principals import acting_user
from creneau.accounts.selectors import staff_actor
from creneau.core import clock
from creneau.core.actors import Actor
from creneau.directory.models import (
    Agenda,
    Organization,
    OrganizationKind,
    Practitioner,
    PractitionerSite,
    Site,
    Specialty,
)
from creneau.directory.nomenclature import specialty_rows
from creneau.directory.services import agendas_ensure
from creneau.directory.validators import rpps_with_check_digit
from creneau.patients.models import Patient, Relationship
from creneau.scheduling.models import Motif, OpeningRule

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
_seq = itertools.count(1)


def paris(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=PARIS)


def organization(name: str = "Cabinet Test") -> Organization:
    return Organization.objects.create(name=name, kind=OrganizationKind.PRACTICE)


def site(org: Organization, *, city: str = "Lyon", postcode: str = "69003", time_zone: str = "Europe/Paris") -> Site:
    return Site.objects.create(
        organization=org,
        name=f"{org.name} site",
        address="1 rue de Test",
        postcode=postcode,
        city=city,
        latitude=45.76,
        longitude=4.84,
        time_zone=time_zone,
    )


def ensure_specialties() -> None:
    """Transactional tests flush the tables the data migration filled; put the nomenclature back."""
    if not Specialty.objects.exists():
        Specialty.objects.bulk_create(Specialty(**row) for row in specialty_rows())


def practitioner(
    *sites: Site, specialty: str = "SM15", accepts_new: bool = True, deadline_hours: int = 4
) -> Practitioner:
    ensure_specialties()
    n = next(_seq)
    p = Practitioner.objects.create(
        rpps=rpps_with_check_digit(f"199{n:07d}"),
        given_name="Jeanne",
        family_name=f"Testeur{n}",
        specialty_id=specialty,
        accepts_new_patients=accepts_new,
        cancellation_deadline_hours=deadline_hours,
    )
    for s in sites:
        PractitionerSite.objects.create(practitioner=p, site=s)
    agendas_ensure(links=[(p.pk, s.organization_id) for s in sites])
    return p


def agenda(p: Practitioner, org: Organization | None = None) -> Agenda:
    """The practitioner's agenda in `org` (or its only agenda)."""
    qs = Agenda.objects.filter(practitioner=p)
    return qs.get(organization=org) if org is not None else qs.get()


def motif(
    p: Practitioner,
    *,
    minutes: int = 30,
    audience: str = "all",
    notice: int = 0,
    horizon: int = 90,
    buffer: int = 0,
    online: bool = True,
    name: str = "Consultation",
    org: Organization | None = None,
) -> Motif:
    return Motif.objects.create(
        agenda=agenda(p, org),
        practitioner=p,
        name=name,
        duration_minutes=minutes,
        audience=audience,
        min_notice_minutes=notice,
        max_horizon_days=horizon,
        buffer_minutes=buffer,
        bookable_online=online,
    )


def weekly_rule(
    p: Practitioner,
    s: Site,
    *,
    weekday: int,
    start: str = "09:00",
    end: str = "12:00",
    valid_from: dt.date = dt.date(2026, 1, 1),
    valid_until: dt.date | None = None,
) -> OpeningRule:
    return OpeningRule.objects.create(
        agenda=agenda(p, s.organization),
        practitioner=p,
        site=s,
        weekday=weekday,
        start_time=dt.time.fromisoformat(start),
        end_time=dt.time.fromisoformat(end),
        valid_from=valid_from,
        valid_until=valid_until,
    )


def every_day(p: Practitioner, s: Site, start: str = "09:00", end: str = "12:00") -> list[OpeningRule]:
    return [weekly_rule(p, s, weekday=d, start=start, end=end) for d in range(7)]


def patient_account(email: str | None = None, *, given_name: str = "Alice") -> tuple[User, Patient, Actor]:
    user = User.objects.create_user(email or f"patient{next(_seq)}@example.invalid", "correct horse battery 42")
    patient = Patient.objects.create(
        account=user,
        relationship=Relationship.SELF,
        family_name="Patiente",
        given_name=given_name,
        birth_date=dt.date(1985, 3, 14),
        phone="+33639980001",
        phone_verified_at=clock.now(),  # confirmed by SMS code (tests/test_web_phone.py covers how)
        email=user.email,
    )
    return user, patient, Actor.for_patient(user)


def user_of(actor: Actor) -> User:
    """The account of an actor built from one (staff, patient, operator): `Actor.user` is typed as core's
    Principal, this gives the `User` back."""
    user = acting_user(actor)
    assert user is not None, "this actor has no account"
    return user


def grant(user: User, agenda: Agenda, *, book: bool = True, manage: bool = True, force: bool = False) -> AgendaAccess:
    """Give a staff member rights on one agenda (what an organization admin does from the team page)."""
    return AgendaAccess.objects.create(
        user=user, agenda=agenda, can_view=True, can_book=book, can_manage=manage, can_force=force
    )


def staff(
    org: Organization,
    role: str = Role.SECRETARY,
    *,
    practitioner: Practitioner | None = None,
    all_agendas: bool = True,
) -> Actor:
    """A staff member of `org`. A secretary is granted every right on the organization's existing
    agendas unless `all_agendas=False` (then only what the test grants)."""
    user = User.objects.create_user(f"staff{next(_seq)}@example.invalid", "correct horse battery 42")
    Membership.objects.create(user=user, organization=org, role=role, practitioner=practitioner)
    if role == Role.SECRETARY and all_agendas:
        AgendaAccess.objects.bulk_create(
            AgendaAccess(user=user, agenda=a, can_view=True, can_book=True, can_manage=True, can_force=True)
            for a in Agenda.objects.filter(organization=org)
        )
    return staff_actor(user)
