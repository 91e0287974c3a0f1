"""Patient: read, search among the known patients, and create."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.translation import gettext as _

from creneau.core.errors import NotFound
from creneau.patients import selectors as patient_selectors
from creneau.patients import services as patient_services

from .. import params, search
from ..http import FhirError, authenticate, fhir_response, read_body, write_response
from ..mappers import patient as patient_map
from .common import valid_uuids


def patient_read(request: HttpRequest, rid: str) -> HttpResponse:
    caller = authenticate(request, anonymous_ok=False)
    patient = patient_selectors.access_patient(caller.actor("Patient", "r"), rid)
    return fhir_response(patient_map.to_fhir(patient))


def patient_search(request: HttpRequest) -> HttpResponse:
    """Among the patients known to the granting organizations, by _id or by family name, birth date
    and/or phone (at least one). Never a listing of everyone."""
    caller = authenticate(request, anonymous_ok=False)
    actor = caller.actor("Patient", "s")
    q = request.GET
    pg = params.page(q)
    found = _matching(actor, q, pg.offset + pg.count)
    rows = found[pg.offset : pg.offset + pg.count] if pg.count else []
    resources = [patient_map.to_fhir(p) for p in rows]
    return fhir_response(params.bundle(request, "Patient", resources, total=len(found), pg=pg))


def _matching(actor: Any, q: QueryDict, limit: int) -> list[Any]:
    """Patients matching a search query (the `_id`, or family + birthdate, phone, email)."""
    if ids_ := params.tokens(q, "_id"):
        found = list(patient_selectors.patients_visible_to(actor).filter(pk__in=valid_uuids([c for _s, c in ids_])))
    else:
        births = params.dates(q, "birthdate")
        if births and (births[0].prefix != "eq" or births[0].hi - births[0].lo > dt.timedelta(hours=25)):
            raise FhirError(400, _("Search birthdate by an exact date."))
        phones = [c for _s, c in params.tokens(q, "phone")]
        emails = [c for _s, c in params.tokens(q, "email")]
        if not (q.get("family") or births or phones or emails):
            raise FhirError(400, _("Search patients by _id, family and birthdate, phone or email."))
        found = patient_selectors.patient_search_for_organization(
            actor,
            family_name=q.get("family", ""),
            birth_date=births[0].lo.astimezone(params.PARIS).date() if births else None,
            phone=phones[0] if phones else "",
            limit=limit,
            **({"email": emails[0]} if emails else {}),
        )
    return found


def patient_create(request: HttpRequest) -> HttpResponse:
    caller = authenticate(request, anonymous_ok=False)
    actor = caller.actor("Patient", "c")
    new = patient_map.create_from_fhir(read_body(request, "Patient"))
    if new.organization_id not in actor.organization_ids:
        raise NotFound(_("Unknown organization."))
    base = params.base_url(request)
    if condition := request.META.get("HTTP_IF_NONE_EXIST", "").strip():
        # Conditional create: the condition is a Patient search among the known patients.
        query = QueryDict(condition.lstrip("?"), mutable=True)
        search.restrict_to_supported(query, "Patient")
        existing = _matching(caller.actor("Patient", "s"), query, 2)
        if len(existing) > 1:
            raise FhirError(412, _("Several patients match the If-None-Exist condition."))
        if existing:
            found = patient_map.to_fhir(existing[0])
            return write_response(request, found, 200, {"Location": f"{base}Patient/{existing[0].pk}"})
    patient = patient_services.patient_create_for_organization(
        actor=actor, organization_id=new.organization_id, **new.identity
    )
    return write_response(request, patient_map.to_fhir(patient), 201, {"Location": f"{base}Patient/{patient.pk}"})
