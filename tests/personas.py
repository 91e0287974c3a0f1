"""Typed personas for tests: the shared `world` of one organization (owner side), its secretary (member),
a patient account, and an outsider secretary of another organization.

A test reads `world.doc`, `world.secretary`, `world.outsider`, so that a typo is a mypy error and a
reader sees who is who without opening the fixture. `dataclasses.replace(world, doc=...)` derives a
variant (another site or practitioner) without mutating the shared one."""

from __future__ import annotations

import dataclasses

from creneau.accounts.models import User
from creneau.core.actors import Actor
from creneau.directory.models import Agenda, Organization, Practitioner, Site
from creneau.patients.models import Patient
from creneau.scheduling.models import Motif


@dataclasses.dataclass(frozen=True)
class World:
    """A dermatologist (`doc`) open every day 09:00–12:00 at `site` of `org`, with a 30-minute `motif`
    and an `agenda`; a patient account (`user`, `patient`, `patient_actor`); `secretary`, a member of
    `org`, and `caller`, a patient that secretary created by phone; `outsider`, a secretary of
    `other_org`."""

    org: Organization
    site: Site
    doc: Practitioner
    agenda: Agenda
    motif: Motif
    user: User
    patient: Patient
    patient_actor: Actor
    secretary: Actor
    caller: Patient
    outsider: Actor
    other_org: Organization


def personas_of(world: World) -> dict[str, object]:
    """The fields of `world` by name, to build a richer persona class that extends `World`."""
    return {field.name: getattr(world, field.name) for field in dataclasses.fields(World)}
