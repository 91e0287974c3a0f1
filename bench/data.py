"""Benchmark data, built fast: directory and agendas with bulk_create, appointments with COPY.

World:
- SEARCH: 50 dermatologists in Lyon (one practice each), open Mon–Sat 08:00–12:00 and 14:00–19:00,
  a 15-minute and a 30-minute online motif; ~120 future appointments each over the next 4 weeks.
- BOOKING: 40 practitioners in one Marseille clinic open every day 07:00–21:00 (15-minute motif), with a
  secretary account: the booking benchmark's targets.
- BULK: 1,000 practitioners elsewhere whose past agendas carry the bulk of the appointments.
- 200 patients created by each of the Lyon practices and the clinic (encrypted identity)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import random
import uuid
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg

from . import env

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
SPECIALTY = "SM15"
N_SEARCH = 50
N_BOOKING = 60
# The scale query: 500 general practitioners in one city, searched and sorted by earliest availability
# (what a national directory answers for a big city), measured at every appointment level.
N_SCALE = 500
SCALE_SPECIALTY = "SM54"
SCALE_CITY = "Toulouse"
N_BULK = 1000
SLOT = dt.timedelta(minutes=15)
SLOTS_PER_DAY = 36  # 08:00–17:00 in 15-minute steps, for bulk history rows


def recreate_database() -> None:
    """Drop and create the benchmark's own database (never any other)."""
    with psycopg.connect(f"{env.PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [env.DB_NAME],
        )
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {}").format(psycopg.sql.Identifier(env.DB_NAME)))
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(env.DB_NAME)))


@dataclass
class World:
    search_ids: list[uuid.UUID] = field(default_factory=list)
    booking_ids: list[uuid.UUID] = field(default_factory=list)
    bulk_ids: list[uuid.UUID] = field(default_factory=list)
    scale_ids: list[uuid.UUID] = field(default_factory=list)
    # practitioner -> (org, site, motif15)
    agenda: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID, uuid.UUID]] = field(default_factory=dict)
    clinic_id: uuid.UUID | None = None
    secretary_email: str = "secretariat@bench.invalid"
    clinic_patients: list[uuid.UUID] = field(default_factory=list)
    lyon_patients: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)  # org -> patients
    history_next: dict[uuid.UUID, int] = field(default_factory=dict)  # practitioner -> next free history slot
    appointments: int = 0


def build_world(rng: random.Random) -> World:
    from creneau.accounts.models import AgendaAccess, Membership, Role, User
    from creneau.core import clock
    from creneau.directory.models import Agenda, Organization, OrganizationKind, Practitioner, PractitionerSite, Site
    from creneau.directory.validators import rpps_with_check_digit
    from creneau.patients.models import Patient, Relationship
    from creneau.scheduling.models import Motif, OpeningRule

    w = World()
    orgs: list[Organization] = []
    sites: list[Site] = []
    docs: list[Practitioner] = []
    links: list[PractitionerSite] = []
    motifs: list[Motif] = []
    rules: list[OpeningRule] = []
    today = clock.now().astimezone(PARIS).date()
    valid_from = today - dt.timedelta(days=400)
    seq = iter(range(10**6))
    agendas: dict[uuid.UUID, Agenda] = {}

    def link(p: Practitioner, s: Site) -> None:
        links.append(PractitionerSite(practitioner=p, site=s))
        agendas[p.pk] = Agenda(id=uuid.uuid4(), practitioner=p, organization=s.organization)

    def practitioner(specialty: str) -> Practitioner:
        p = Practitioner(
            id=uuid.uuid4(),
            rpps=rpps_with_check_digit(f"199{next(seq):07d}"),
            given_name="Camille",
            family_name=f"Banc{len(docs)}",
            specialty_id=specialty,
            languages=["fr"],
        )
        docs.append(p)
        return p

    def org_site(name: str, city: str, postcode: str, lat: float, lon: float) -> tuple[Organization, Site]:
        org = Organization(id=uuid.uuid4(), name=name, kind=OrganizationKind.PRACTICE)
        site = Site(
            id=uuid.uuid4(),
            organization=org,
            name=name,
            address="1 rue du Banc",
            postcode=postcode,
            city=city,
            latitude=lat,
            longitude=lon,
        )
        orgs.append(org)
        sites.append(site)
        return org, site

    def motif(p: Practitioner, minutes: int, name: str) -> Motif:
        m = Motif(
            id=uuid.uuid4(),
            agenda=agendas[p.pk],
            practitioner=p,
            name=name,
            duration_minutes=minutes,
            min_notice_minutes=0,
            max_horizon_days=90,
        )
        motifs.append(m)
        return m

    def rule(p: Practitioner, s: Site, weekday: int, start: str, end: str) -> None:
        rules.append(
            OpeningRule(
                id=uuid.uuid4(),
                agenda=agendas[p.pk],
                practitioner=p,
                site=s,
                weekday=weekday,
                start_time=dt.time.fromisoformat(start),
                end_time=dt.time.fromisoformat(end),
                valid_from=valid_from,
            )
        )

    for i in range(N_SEARCH):
        org, site = org_site(
            f"Cabinet de dermatologie {i}",
            "Lyon",
            "69003",
            45.76 + rng.uniform(-0.03, 0.03),
            4.84 + rng.uniform(-0.04, 0.04),
        )
        p = practitioner(SPECIALTY)
        link(p, site)
        m15 = motif(p, 15, "Consultation")
        motif(p, 30, "Première consultation")
        for d in range(6):
            rule(p, site, d, "08:00", "12:00")
            rule(p, site, d, "14:00", "19:00")
        w.search_ids.append(p.pk)
        w.agenda[p.pk] = (org.pk, site.pk, m15.pk)
    for i in range(N_SCALE):
        org, site = org_site(
            f"Cabinet médical {i}",
            SCALE_CITY,
            "31000",
            43.6045 + rng.uniform(-0.05, 0.05),
            1.444 + rng.uniform(-0.06, 0.06),
        )
        p = practitioner(SCALE_SPECIALTY)
        link(p, site)
        m15 = motif(p, 15, "Consultation")
        for d in range(6):
            rule(p, site, d, "08:00", "12:00")
            rule(p, site, d, "14:00", "19:00")
        w.scale_ids.append(p.pk)
        w.agenda[p.pk] = (org.pk, site.pk, m15.pk)
    clinic, csite = org_site("Clinique du Banc", "Marseille", "13001", 43.2965, 5.3698)
    w.clinic_id = clinic.pk
    for _ in range(N_BOOKING):
        p = practitioner("SM26")
        link(p, csite)
        m15 = motif(p, 15, "Consultation")
        for d in range(7):
            rule(p, csite, d, "07:00", "21:00")
        w.booking_ids.append(p.pk)
        w.agenda[p.pk] = (clinic.pk, csite.pk, m15.pk)
    for i in range(N_BULK):
        org, site = org_site(f"Cabinet {i}", "Paris", "75011", 48.857 + rng.uniform(-0.05, 0.05), 2.37)
        p = practitioner(rng.choice(["SM26", "SM15", "SM54", "SM38"]))
        link(p, site)
        m15 = motif(p, 15, "Consultation")
        for d in range(5):
            rule(p, site, d, "08:00", "17:00")
        w.bulk_ids.append(p.pk)
        w.agenda[p.pk] = (org.pk, site.pk, m15.pk)

    Organization.objects.bulk_create(orgs, batch_size=1000)
    Site.objects.bulk_create(sites, batch_size=1000)
    Practitioner.objects.bulk_create(docs, batch_size=1000)
    PractitionerSite.objects.bulk_create(links, batch_size=1000)
    Agenda.objects.bulk_create(list(agendas.values()), batch_size=1000)
    Motif.objects.bulk_create(motifs, batch_size=1000)
    OpeningRule.objects.bulk_create(rules, batch_size=2000)

    secretary = User.objects.create_user(w.secretary_email, "bench-password-2026")
    Membership.objects.create(user=secretary, organization=clinic, role=Role.SECRETARY)
    AgendaAccess.objects.bulk_create(
        AgendaAccess(user=secretary, agenda=a, can_view=True, can_book=True, can_manage=True)
        for a in agendas.values()
        if a.organization_id == clinic.pk
    )
    patients: list[Patient] = []
    for org_id in [clinic.pk] + [w.agenda[p][0] for p in w.search_ids]:
        n = 200 if org_id == clinic.pk else 20
        for j in range(n):
            pt = Patient(
                id=uuid.uuid4(),
                relationship=Relationship.SELF,
                created_by_organization_id=org_id,
                family_name=f"Patient{j}",
                given_name="Dominique",
                birth_date=dt.date(1950 + j % 60, 1 + j % 12, 1 + j % 28),
                phone=f"+336399800{j % 100:02d}",
                email=f"p{j}.{org_id.hex[:6]}@bench.invalid",
                address_line="2 place du Banc",
                postcode="69003",
                city="Lyon",
            )
            patients.append(pt)
            if org_id == clinic.pk:
                w.clinic_patients.append(pt.pk)
            else:
                w.lyon_patients.setdefault(org_id, []).append(pt.pk)
    Patient.objects.bulk_create(patients, batch_size=1000)
    return w


COLUMNS = (
    "id, created_at, updated_at, practitioner_id, site_id, organization_id, motif_id, patient_id, start_at, end_at, "
    "busy_until, status, source, actor_key, booked_at, cancelled_by, is_forced, forced_reason, "
    "no_show_excused"
)


def _row(buf: io.StringIO, w: World, pid: uuid.UUID, patient: uuid.UUID, start: dt.datetime, status: str) -> None:
    org, site, motif = w.agenda[pid]
    end = start + SLOT
    s, e = start.isoformat(), end.isoformat()
    buf.write(
        f"{uuid.uuid4()}\t{s}\t{s}\t{pid}\t{site}\t{org}\t{motif}\t{patient}\t{s}\t{e}\t{e}\t{status}\tweb\tbench\t{s}\t\tf\t\tf\n"
    )


def _copy(buf: io.StringIO) -> None:
    from django.db import connection

    buf.seek(0)
    with connection.cursor() as cur, cur.cursor.copy(f"COPY booking_appointment ({COLUMNS}) FROM STDIN") as copy:
        while chunk := buf.read(1 << 20):
            copy.write(chunk)


@contextlib.contextmanager
def bulk_load() -> Iterator[None]:
    """Load like a restore: drop the table's secondary indexes and its exclusion constraint, skip the
    (deferred) foreign-key triggers, COPY, then rebuild everything in bulk. Re-adding the exclusion
    constraint re-checks every row, so the loaded data is proven free of overlaps."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'booking_appointment'::regclass AND contype = 'x'"
        )
        exclusions = cur.fetchall()
        cur.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'booking_appointment' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
        indexes = cur.fetchall()
        for name, _def in exclusions:
            cur.execute(f'ALTER TABLE booking_appointment DROP CONSTRAINT "{name}"')
        for name, _def in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        yield
        cur.execute("SET LOCAL session_replication_role = origin")
        for _name, definition in indexes:
            cur.execute(definition)
        for name, definition in exclusions:
            cur.execute(f'ALTER TABLE booking_appointment ADD CONSTRAINT "{name}" {definition}')


def add_search_future(
    w: World, rng: random.Random, per_practitioner: int = 120, ids: list[uuid.UUID] | None = None
) -> int:
    """Future bookings of the searched practitioners over the next 4 weeks (random free slots)."""
    from creneau.core import clock

    buf = io.StringIO()
    today = clock.now().astimezone(PARIS).date()
    n = 0
    pool = [p for ps in w.lyon_patients.values() for p in ps]
    for pid in w.search_ids if ids is None else ids:
        org = w.agenda[pid][0]
        candidates = []
        for d in range(1, 29):
            day = today + dt.timedelta(days=d)
            if day.weekday() == 6:
                continue
            for h, m in [(h, m) for h in (8, 9, 10, 11, 14, 15, 16, 17, 18) for m in (0, 15, 30, 45)]:
                candidates.append(dt.datetime(day.year, day.month, day.day, h, m, tzinfo=PARIS))
        for start in rng.sample(candidates, per_practitioner):
            _row(buf, w, pid, rng.choice(w.lyon_patients.get(org) or pool), start.astimezone(dt.UTC), "booked")
            n += 1
    _copy(buf)
    w.appointments += n
    return n


def add_history(w: World, rng: random.Random, count: int, chunk: int = 200_000) -> int:
    """`count` past appointments spread over every practitioner's history, never overlapping."""
    from creneau.core import clock

    owners = w.bulk_ids + w.search_ids + w.scale_ids
    base = dt.datetime.combine(clock.now().astimezone(PARIS).date(), dt.time(8), tzinfo=PARIS) - dt.timedelta(days=1)
    pool = [p for ps in w.lyon_patients.values() for p in ps]
    patients_for = {
        pid: w.lyon_patients.get(w.agenda[pid][0]) or (pool if pid in w.scale_ids else w.clinic_patients)
        for pid in owners
    }
    written = 0
    while written < count:
        buf = io.StringIO()
        for _ in range(min(chunk, count - written)):
            pid = owners[written % len(owners)]
            k = w.history_next.get(pid, 0)
            w.history_next[pid] = k + 1
            day, slot = divmod(k, SLOTS_PER_DAY)
            start = (base - dt.timedelta(days=day)).astimezone(dt.UTC) + slot * SLOT
            status = "cancelled" if written % 10 == 0 else ("no_show" if written % 37 == 0 else "fulfilled")
            _row(buf, w, pid, rng.choice(patients_for[pid]), start, status)
            written += 1
        _copy(buf)
    w.appointments += written
    return written


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def appointment_count() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM booking_appointment")
        return int(cur.fetchone()[0])
