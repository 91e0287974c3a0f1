"""Load deterministic, clearly fictional demo data: `manage.py seed_demo [--seed N] [--practitioners N]`."""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
import zoneinfo
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from creneau.accounts.models import AgendaAccess, Membership, Role, User
from creneau.booking.models import Appointment, Source, Status
from creneau.core import clock
from creneau.demo import data
from creneau.directory.models import (
    Agenda,
    Organization,
    OrganizationKind,
    Practitioner,
    PractitionerSite,
    Site,
    practitioner_name_key,
)
from creneau.directory.validators import rpps_with_check_digit
from creneau.patients.models import Patient, Relationship, Sex, store_name_grams
from creneau.scheduling import engine
from creneau.scheduling.models import Absence, Motif, OpeningRule
from creneau.scheduling.services import availability_refresh

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


class Command(BaseCommand):
    help = "Load deterministic fictional demo data (practitioners, agendas, patients, appointments)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--practitioners", type=int, default=300)
        parser.add_argument("--patients", type=int, default=600)
        parser.add_argument("--weeks", type=int, default=6)
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if practitioners exist.")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["if_empty"] and Practitioner.objects.exists():
            self.stdout.write("Demo data already present.")
            return
        started = time.monotonic()
        with transaction.atomic():
            counts = Seeder(random.Random(opts["seed"]), weeks=opts["weeks"]).run(
                n_practitioners=opts["practitioners"], n_patients=opts["patients"]
            )
        practitioner_ids = list(Practitioner.objects.values_list("pk", flat=True))
        for i in range(0, len(practitioner_ids), 200):
            availability_refresh(practitioner_ids=practitioner_ids[i : i + 200])
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data: "
                + ", ".join(f"{v} {k}" for k, v in counts.items())
                + f" in {time.monotonic() - started:.1f}s. Accounts (password {data.DEMO_PASSWORD}): "
                "patient@creneau.test, secretaire@creneau.test, admin-cabinet@creneau.test, "
                "operateur@creneau.test (Django admin)."
            )
        )


class Seeder:
    def __init__(self, rng: random.Random, *, weeks: int) -> None:
        self.rng = rng
        self.weeks = weeks
        self.today = clock.now().astimezone(PARIS).date()

    def uid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def run(self, *, n_practitioners: int, n_patients: int) -> dict[str, int]:
        rng = self.rng
        orgs: list[Organization] = []
        sites: list[Site] = []
        practitioners: list[Practitioner] = []
        links: list[PractitionerSite] = []
        per_city = max(1, n_practitioners // len(data.CITIES))
        for city, postcode, lat, lon, streets in data.CITIES:
            remaining = per_city
            while remaining > 0:
                kind = rng.choices(
                    [OrganizationKind.PRACTICE, OrganizationKind.HEALTH_CENTRE, OrganizationKind.CLINIC], [6, 3, 1]
                )[0]
                size = {
                    OrganizationKind.PRACTICE: rng.randint(1, 3),
                    OrganizationKind.HEALTH_CENTRE: rng.randint(4, 8),
                    OrganizationKind.CLINIC: rng.randint(6, 10),
                }[kind]
                size = min(size, remaining)
                remaining -= size
                street = rng.choice(streets)
                label = {
                    OrganizationKind.PRACTICE: "Cabinet médical",
                    OrganizationKind.HEALTH_CENTRE: "Centre de santé",
                    OrganizationKind.CLINIC: "Clinique",
                }[kind]
                org = Organization(id=self.uid(), name=f"{label} {street.split(' ', 1)[1].title()} ({city})", kind=kind)
                orgs.append(org)
                site = Site(
                    id=self.uid(),
                    organization=org,
                    name=org.name,
                    address=f"{rng.randint(1, 180)} {street}",
                    postcode=postcode,
                    city=city,
                    latitude=round(lat + rng.uniform(-0.02, 0.02), 5),
                    longitude=round(lon + rng.uniform(-0.03, 0.03), 5),
                )
                sites.append(site)
                for _ in range(size):
                    female = rng.random() < 0.5
                    p = Practitioner(
                        id=self.uid(),
                        rpps=rpps_with_check_digit("199" + f"{rng.randrange(10**7):07d}"),
                        given_name=rng.choice(data.GIVEN_NAMES_F if female else data.GIVEN_NAMES_M),
                        family_name=rng.choice(data.FAMILY_NAMES),
                        specialty_id=rng.choices(data.SPECIALTIES, data.SPECIALTY_WEIGHTS)[0],
                        languages=["fr"]
                        + (["en"] if rng.random() < 0.4 else [])
                        + (["es"] if rng.random() < 0.1 else []),
                        accepts_new_patients=rng.random() < 0.85,
                        cancellation_deadline_hours=rng.choice([4, 4, 4, 24, 48]),
                    )
                    practitioners.append(p)
                    links.append(PractitionerSite(practitioner=p, site=site))
        # Some practitioners also consult at a second site (another organization of the same city).
        for p, link in zip(practitioners, list(links), strict=True):
            if rng.random() < 0.08:
                others = [s for s in sites if s.city == link.site.city and s.pk != link.site.pk]
                if others:
                    links.append(PractitionerSite(practitioner=p, site=rng.choice(others)))
        rpps_seen: set[str] = set()
        for p in practitioners:
            while p.rpps in rpps_seen:
                p.rpps = rpps_with_check_digit("199" + f"{rng.randrange(10**7):07d}")
            rpps_seen.add(p.rpps)
            # Not drawn from the RNG, so that a seed keeps giving the same data as before.
            p.name_key = practitioner_name_key(p.given_name, p.family_name)
            p.convention_sector = "2" if p.specialty_id != "SM54" and int(p.rpps[4]) >= 6 else "1"
        Organization.objects.bulk_create(orgs)
        Site.objects.bulk_create(sites)
        Practitioner.objects.bulk_create(practitioners)
        PractitionerSite.objects.bulk_create(links)

        motifs, rules, absences = self.agendas(practitioners, links)
        patients = self.patients(n_patients)
        appointments = self.appointments(practitioners, motifs, rules, absences, patients, links)
        self.staff_accounts(orgs, practitioners, links)
        return {
            "organizations": len(orgs),
            "sites": len(sites),
            "practitioners": len(practitioners),
            "motifs": len(motifs),
            "patients": len(patients),
            "appointments": len(appointments),
        }

    def agendas(
        self, practitioners: list[Practitioner], links: list[PractitionerSite]
    ) -> tuple[list[Motif], list[OpeningRule], list[Absence]]:
        rng = self.rng
        motifs: list[Motif] = []
        rules: list[OpeningRule] = []
        absences: list[Absence] = []
        sites_of: dict[uuid.UUID, list[Site]] = {}
        for link in links:
            sites_of.setdefault(link.practitioner.pk, []).append(link.site)
        # One agenda per organization a practitioner works for, each with its own visit reasons.
        agenda_of: dict[tuple[uuid.UUID, uuid.UUID], Agenda] = {}
        for link in links:
            key = (link.practitioner.pk, link.site.organization_id)
            if key not in agenda_of:
                agenda_of[key] = Agenda(
                    id=self.uid(), practitioner=link.practitioner, organization=link.site.organization
                )
        Agenda.objects.bulk_create(list(agenda_of.values()))
        valid_from = self.today - dt.timedelta(days=30)
        for p in practitioners:
            spec = data.MOTIFS_BY_SPECIALTY.get(p.specialty_id, data.DEFAULT_MOTIFS)
            p_agendas = [a for (pid, _o), a in agenda_of.items() if pid == p.pk]
            for ag, (pos, (name, minutes, audience, channel)) in (
                (ag, item) for ag in p_agendas for item in enumerate(spec)
            ):
                motifs.append(
                    Motif(
                        id=self.uid(),
                        agenda=ag,
                        practitioner=p,
                        name=name,
                        duration_minutes=minutes,
                        audience=audience,
                        channel=channel,
                        position=pos,
                        min_notice_minutes=rng.choice([0, 60, 120, 24 * 60]),
                        max_horizon_days=rng.choice([30, 60, 90]),
                        buffer_minutes=rng.choice([0, 0, 0, 5]),
                    )
                )
            p_sites = sites_of[p.pk]
            days = sorted(rng.sample(range(5), rng.randint(3, 5))) + ([5] if rng.random() < 0.3 else [])
            for day in days:
                site = p_sites[0] if len(p_sites) == 1 or day < 3 else p_sites[1]
                morning = (dt.time(rng.choice([8, 9]), rng.choice([0, 30])), dt.time(12, rng.choice([0, 30])))
                rules.append(
                    OpeningRule(
                        id=self.uid(),
                        agenda=agenda_of[(p.pk, site.organization_id)],
                        practitioner=p,
                        site=site,
                        weekday=day,
                        start_time=morning[0],
                        end_time=morning[1],
                        valid_from=valid_from,
                    )
                )
                if day < 5:
                    rules.append(
                        OpeningRule(
                            id=self.uid(),
                            agenda=agenda_of[(p.pk, site.organization_id)],
                            practitioner=p,
                            site=site,
                            weekday=day,
                            start_time=dt.time(14, 0),
                            end_time=dt.time(rng.choice([17, 18, 19]), 0),
                            valid_from=valid_from,
                        )
                    )
            if rng.random() < 0.15:
                start_day = self.today + dt.timedelta(days=rng.randint(3, 30))
                absences.append(
                    Absence(
                        id=self.uid(),
                        agenda=p_agendas[0],
                        practitioner=p,
                        label="Congés",
                        start_at=dt.datetime.combine(start_day, dt.time(0, 0), tzinfo=PARIS),
                        end_at=dt.datetime.combine(
                            start_day + dt.timedelta(days=rng.randint(1, 7)), dt.time(0, 0), tzinfo=PARIS
                        ),
                    )
                )
        Motif.objects.bulk_create(motifs)
        OpeningRule.objects.bulk_create(rules)
        Absence.objects.bulk_create(absences)
        return motifs, rules, absences

    def patients(self, n: int) -> list[Patient]:
        rng = self.rng
        users: list[User] = []
        patients: list[Patient] = []
        for i in range(n):
            female = rng.random() < 0.52
            birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 80))
            given = rng.choice(data.GIVEN_NAMES_F if female else data.GIVEN_NAMES_M)
            family = rng.choice(data.FAMILY_NAMES)
            city = rng.choice(data.CITIES)
            patients.append(
                Patient(
                    id=self.uid(),
                    family_name=family,
                    given_name=given,
                    birth_date=birth,
                    sex=Sex.FEMALE if female else Sex.MALE,
                    phone=f"+33639980{i % 1000:03d}"[:12],
                    email=f"patient{i:04d}@exemple.invalid",
                    address_line=f"{rng.randint(1, 120)} {rng.choice(city[4])}",
                    postcode=city[1],
                    city=city[0],
                    relationship=Relationship.SELF,
                )
            )
        demo = User(id=self.uid(), email="patient@creneau.test", language="fr")
        demo.set_password(data.DEMO_PASSWORD)
        users.append(demo)
        User.objects.bulk_create(users)
        me = Patient(
            id=self.uid(),
            account=demo,
            family_name="Démo",
            given_name="Alice",
            birth_date=dt.date(1988, 5, 17),
            sex=Sex.FEMALE,
            phone="+33639981234",
            email="patient@creneau.test",
            address_line="12 rue de la République",
            postcode="69002",
            city="Lyon",
        )
        child = Patient(
            id=self.uid(),
            account=demo,
            relationship=Relationship.CHILD,
            family_name="Démo",
            given_name="Léo",
            birth_date=dt.date(2017, 9, 2),
            sex=Sex.MALE,
        )
        patients += [me, child]
        Patient.objects.bulk_create(patients)
        store_name_grams(patients, new=True)  # bulk_create bypasses save(): the name search index
        return patients

    def appointments(
        self,
        practitioners: list[Practitioner],
        motifs: list[Motif],
        rules: list[OpeningRule],
        absences: list[Absence],
        patients: list[Patient],
        links: list[PractitionerSite],
    ) -> list[Appointment]:
        """Fill about an eighth of each agenda for the coming weeks, and a week of past visits."""
        rng = self.rng
        now = clock.now()
        others, demo_patients = patients[:-2], patients[-2:]  # the demo account's people come last
        start = now - dt.timedelta(days=7)
        end = now + dt.timedelta(weeks=self.weeks)
        org_of = {link.site.pk: link.site.organization_id for link in links}
        motifs_of: dict[tuple[uuid.UUID, uuid.UUID], list[Motif]] = {}
        for m in motifs:
            motifs_of.setdefault((m.practitioner_id, m.agenda.organization_id), []).append(m)
        rules_of: dict[uuid.UUID, list[engine.RuleSpec]] = {}
        for r in rules:
            rules_of.setdefault(r.practitioner_id, []).append(
                engine.RuleSpec(r.weekday, r.start_time, r.end_time, r.valid_from, r.valid_until, r.site_id)
            )
        away: dict[uuid.UUID, list[engine.Interval]] = {}
        for a in absences:
            away.setdefault(a.practitioner_id, []).append(engine.Interval(a.start_at, a.end_at))
        rows: list[Appointment] = []
        for p in practitioners:
            busy = list(away.get(p.pk, []))
            windows = engine.opening_windows(rules_of.get(p.pk, []), tz=PARIS, start=start, end=end)
            for site_id, window in windows:
                if site_id is None:
                    continue
                pm = motifs_of[(p.pk, org_of[site_id])]
                t = window.start
                while t < window.end:
                    motif = rng.choice(pm)
                    length = dt.timedelta(minutes=motif.duration_minutes)
                    if t + length > window.end:
                        break
                    if rng.random() < 0.12 and not any(b.start < t + length and t < b.end for b in busy):
                        past = t < now
                        end_at = t + length
                        busy_until = end_at + dt.timedelta(minutes=motif.buffer_minutes)
                        rows.append(
                            Appointment(
                                id=self.uid(),
                                practitioner_id=p.pk,
                                site_id=site_id,
                                organization_id=org_of[site_id],
                                motif=motif,
                                patient=rng.choice(others),
                                start_at=t,
                                end_at=end_at,
                                busy_until=busy_until,
                                status=(
                                    rng.choices([Status.FULFILLED, Status.NO_SHOW, Status.CANCELLED], [90, 4, 6])[0]
                                    if past
                                    else rng.choices([Status.BOOKED, Status.CANCELLED], [93, 7])[0]
                                ),
                                source=rng.choices([Source.WEB, Source.PHONE, Source.API], [70, 25, 5])[0],
                                actor_key="system:seed",
                                booked_at=t - dt.timedelta(days=rng.randint(1, 20)),
                            )
                        )
                        t = busy_until
                    else:
                        t += length
        self.give_demo_account_a_history(rows, demo_patients, now)
        Appointment.objects.bulk_create(rows, batch_size=1000)
        return rows

    @staticmethod
    def give_demo_account_a_history(rows: list[Appointment], demo: list[Patient], now: dt.datetime) -> None:
        """The demo account (Alice and her son) gets a believable history: two visits done, two coming,
        and stays under the cap on future appointments so that it can book in the demo."""
        me, child = demo
        past = [r for r in rows if r.status == Status.FULFILLED and r.start_at < now]
        future = [r for r in rows if r.status == Status.BOOKED and r.start_at > now + dt.timedelta(days=2)]
        for row, who in (
            (past[0], me),
            (past[len(past) // 2], child),
            (future[0], me),
            (future[len(future) // 3], child),
        ):
            row.patient = who

    def staff_accounts(
        self, orgs: list[Organization], practitioners: list[Practitioner], links: list[PractitionerSite]
    ) -> None:
        """Named demo accounts on the Lyon organization with the most practitioners."""
        lyon = [link for link in links if link.site.city == "Lyon"]
        sizes: dict[uuid.UUID, int] = {}
        for link in lyon:
            sizes[link.site.organization_id] = sizes.get(link.site.organization_id, 0) + 1
        biggest = max(sizes, key=lambda org_id: (sizes[org_id], str(org_id)))
        first = next(link for link in lyon if link.site.organization_id == biggest)
        org = first.site.organization
        doctor = first.practitioner
        accounts = [
            ("secretaire@creneau.test", Role.SECRETARY, None),
            ("admin-cabinet@creneau.test", Role.ORG_ADMIN, None),
            ("medecin@creneau.test", Role.PRACTITIONER, doctor),
        ]
        for email, role, practitioner in accounts:
            user = User.objects.create_user(email, data.DEMO_PASSWORD)
            Membership.objects.create(user=user, organization=org, role=role, practitioner=practitioner)
            if role == Role.SECRETARY:
                # The demo secretary works for every agenda of the practice.
                AgendaAccess.objects.bulk_create(
                    AgendaAccess(user=user, agenda=ag, can_view=True, can_book=True, can_manage=True, can_force=True)
                    for ag in Agenda.objects.filter(organization=org)
                )
        User.objects.create_superuser("operateur@creneau.test", data.DEMO_PASSWORD)
