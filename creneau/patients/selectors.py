"""Scoped reads of patients. Every path to a Patient row for a request goes through here."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from creneau.audit.detection import refuse_if_suspended
from creneau.audit.services import Touched, audit_record, record_not_found
from creneau.core import providers
from creneau.core.actors import Actor, ActorKind
from creneau.core.crypto import normalize
from creneau.core.crypto.blind import blind_index, name_matches, name_query_grams
from creneau.core.errors import InvalidInput, NotFound
from creneau.core.ids import parse_id

from .models import BookingBlock, Patient, PatientNameGram, PatientNote
from .querysets import PatientQuerySet


def patients_visible_to(actor: Actor, *, ignoring_appointment: uuid.UUID | None = None) -> PatientQuerySet:
    """The patients this actor may see: their own and their relatives (patient accounts), those
    known to their organizations (staff, API clients), everything for the system.
    `ignoring_appointment`: decide as if that appointment did not exist (the one being booked, already
    inserted in the caller's transaction, must not make its own patient visible)."""
    refuse_if_suspended(actor)
    qs = Patient.objects.audited(actor, via="patients_visible_to")
    if actor.kind == ActorKind.SYSTEM:
        return qs
    if actor.kind == ActorKind.PATIENT:
        if actor.user is None:
            return qs.none()
        return qs.filter(account=actor.user)
    orgs = list(actor.organization_ids)
    if not orgs:
        return qs.none()
    known = _patients_with_appointments_in(orgs, ignoring=ignoring_appointment)
    return qs.filter(Q(created_by_organization_id__in=orgs) | Q(pk__in=known))


def _patients_with_appointments_in(orgs: list[uuid.UUID], *, ignoring: uuid.UUID | None = None) -> QuerySet[Any]:
    """Patients with an appointment there, a subquery asked of booking (CRENEAU_PATIENTS_SEEN_PROVIDER)."""
    seen = providers.provider("CRENEAU_PATIENTS_SEEN_PROVIDER")
    if seen is None:
        return Patient.objects.none().values("pk")
    rows: QuerySet[Any] = seen(orgs, ignoring=ignoring)
    return rows


def access_patient(
    actor: Actor, patient_id: uuid.UUID | str, *, ignoring_appointment: uuid.UUID | None = None
) -> Patient:
    """The patient if the actor may see it; NotFound otherwise (same answer as a missing id).
    `ignoring_appointment` as in `patients_visible_to`."""
    try:
        pid = parse_id(patient_id)
        # With its account: messages about the patient go there (booking confirmations).
        return (
            patients_visible_to(actor, ignoring_appointment=ignoring_appointment)
            .audited(actor, action="read", via="access_patient")
            .select_related("account")
            .get(pk=pid)
        )
    except (Patient.DoesNotExist, NotFound) as exc:
        record_not_found(actor, object_type="patient", via="access_patient")
        raise NotFound(_("Unknown patient.")) from exc


def access_patient_for_organization(
    actor: Actor, patient_id: uuid.UUID | str, *, organization_id: uuid.UUID
) -> Patient:
    """The patient if known to this one organization of the actor (a staff member of two practices
    writes a note for one of them); NotFound otherwise, as for a made-up id. Audited like `access_patient`."""
    if actor.kind != ActorKind.STAFF or organization_id not in actor.organization_ids:
        record_not_found(actor, object_type="patient", via="access_patient")
        raise NotFound(_("Unknown patient."))
    return access_patient(dataclasses.replace(actor, organization_ids=frozenset({organization_id})), patient_id)


def patient_notes(actor: Actor, patient: Patient) -> list[PatientNote]:
    """The notes the actor's organizations keep on `patient` (already read through `access_patient`),
    newest first; the read is audited. Another organization's notes never show."""
    orgs = sorted(actor.organization_ids) if actor.kind == ActorKind.STAFF else []
    if not orgs:
        return []
    notes = list(
        PatientNote.objects.filter(patient=patient, organization_id__in=orgs)
        .select_related("author", "organization")
        .order_by("-created_at")[:200]
    )
    if notes:
        orgs_of_notes = sorted({n.organization_id for n in notes})
        audit_record(
            actor=actor,
            action="read",
            object_type="patient_note",
            via="patient_notes",
            touched=[Touched(patient_id=patient.pk, organization_id=o) for o in orgs_of_notes],
        )
    return notes


def active_booking_blocks(actor: Actor, patient: Patient) -> list[BookingBlock]:
    """The actor's organizations that block online booking for `patient` (no personal data: not audited
    beyond the patient read)."""
    orgs = sorted(actor.organization_ids) if actor.kind == ActorKind.STAFF else []
    return list(
        BookingBlock.objects.filter(patient=patient, organization_id__in=orgs, lifted_at__isnull=True)
        .select_related("organization", "blocked_by")
        .order_by("created_at")
    )


def online_booking_blocked(*, patient_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """Whether this organization blocks online booking for this patient (booking asks, one indexed query)."""
    return BookingBlock.objects.filter(
        patient_id=patient_id, organization_id=organization_id, lifted_at__isnull=True
    ).exists()


def record_patient_read(actor: Actor, patient: Patient) -> None:
    """Audit a read of `patient` by `actor` exactly as `access_patient` does, for a caller whose
    transaction (holding that audit row) rolled back after the record was read."""
    touched = Patient.objects.audited(actor, action="read", via="access_patient").touched(patient)
    audit_record(actor=actor, action="read", object_type="patient", touched=[touched], via="access_patient")


def patients_of_account(actor: Actor) -> list[Patient]:
    """The account holder first, then relatives (sorted in Python: the names are encrypted)."""
    return sorted(patients_visible_to(actor), key=lambda p: (p.relationship != "self", p.given_name))


def patient_search_for_organization(
    actor: Actor,
    *,
    name: str = "",
    family_name: str = "",
    birth_date: dt.date | None = None,
    phone: str = "",
    email: str = "",
    limit: int = 20,
) -> list[Patient]:
    """Staff search among the patients known to their organizations: any part of the name (2 letters
    or more a word, accents and case aside), the date of birth, the phone or the email; the criteria
    given are combined with AND. Identity columns are encrypted, so matching goes through keyed indexes:
    exact blind indexes for birth date, phone and email, fragment digests for the name
    (`PatientNameGram`); a row found by a fragment coincidence is dropped once opened. At most `limit`
    rows are read (and audited), sorted by name in Python. `family_name` (the FHIR API's search) is the
    exact family name, with the date of birth."""
    name, family_name, phone, email = name.strip(), family_name.strip(), phone.strip(), email.strip()
    if not (name or family_name or birth_date or phone or email):
        return []
    if family_name and not birth_date:
        raise InvalidInput(_("To search by name, give both the family name and the date of birth."))
    qs = patients_visible_to(actor)
    if family_name and birth_date:
        qs = qs.filter(name_birth_bidx=blind_index("name_birth", family_name, birth_date))
    if name:
        grams = name_query_grams(name)
        if not grams:
            raise InvalidInput(_("Type at least two letters of the name."))
        having_all = (
            PatientNameGram.objects.filter(digest__in=sorted(grams))
            .values("patient_id")
            .annotate(n=Count("digest"))
            .filter(n=len(grams))
            .values("patient_id")
        )
        qs = qs.filter(pk__in=having_all)
    if birth_date:
        qs = qs.filter(birth_bidx=blind_index("birth", birth_date))
    if phone:
        qs = qs.filter(phone_bidx=blind_index("phone", phone))
    if email:
        qs = qs.filter(email_bidx=blind_index("email", email))
    found = list(qs.order_by("pk")[: max(1, min(limit, 100))])
    if name:
        found = [p for p in found if name_matches(name, p.family_name, p.given_name)]
    return sorted(found, key=lambda p: (normalize.name(p.family_name), normalize.name(p.given_name)))
