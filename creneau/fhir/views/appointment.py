"""Appointment: read, search, create (book), update and patch (cancel, mark, move)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.translation import gettext as _

from creneau.booking import selectors as booking_selectors
from creneau.booking import services as booking_services
from creneau.booking.models import Appointment, Status
from creneau.core.errors import NotFound
from creneau.core.failures import is_unavailable

from .. import ids, params, patch, search
from .. import selectors as scoped
from ..http import Caller, FhirError, authenticate, fhir_response, if_match, read_body, write_response
from ..mappers import appointment as appointment_map
from ..mappers.common import version_id
from .common import CURSOR, keyset_paged, paged, valid_uuids

logger = logging.getLogger("creneau.fhir")


def _appointment_resource(caller: Caller, a: Appointment) -> dict[str, Any]:
    readable = caller.has("Patient", "r") and a.organization_id in (caller.organizations("Patient", "r") or ())
    return appointment_map.to_fhir(a, patient_display=readable)


def appointment_read(request: HttpRequest, rid: str) -> HttpResponse:
    caller = authenticate(request, anonymous_ok=False)
    a = booking_selectors.access_appointment(caller.actor("Appointment", "r"), rid)
    return fhir_response(_appointment_resource(caller, a))


def appointment_search(request: HttpRequest) -> HttpResponse:
    caller = authenticate(request, anonymous_ok=False)
    q = request.GET
    qs = booking_selectors.appointments_visible_to(caller.actor("Appointment", "s")).prefetch_related("identifiers")
    for value in q.getlist("identifier"):
        qs = qs.filter(_identifier_filter(value))
    if ids_ := params.tokens(q, "_id"):
        qs = qs.filter(pk__in=valid_uuids([c for _s, c in ids_]))
    for bound in params.dates(q, "date"):
        qs = qs.filter(**bound.filters("start_at"))
    for bound in params.dates(q, "_lastUpdated"):
        qs = qs.filter(**bound.filters("updated_at"))
    if statuses := [c for _s, c in params.tokens(q, "status")]:
        qs = qs.filter(status__in=[appointment_map.FROM_FHIR_STATUS.get(s, "-") for s in statuses])
    if q.getlist("practitioner"):
        qs = qs.filter(practitioner_id__in=valid_uuids(params.reference_ids(q, "practitioner", "Practitioner")))
    if q.getlist("patient"):
        qs = qs.filter(patient_id__in=valid_uuids(params.reference_ids(q, "patient", "Patient")))
    if q.getlist("location"):
        qs = qs.filter(site_id__in=valid_uuids(params.reference_ids(q, "location", "Location")))
    for value in q.getlist("actor"):
        qs = qs.filter(_actor_filter(value))
    order = params.sort_fields(q, _SORT) or ["start_at"]
    mapper = lambda a: _appointment_resource(caller, a)  # noqa: E731
    if order[0].lstrip("-") == "updated_at":  # incremental sync: a cursor, not an offset
        return keyset_paged(request, "Appointment", qs, mapper, field="updated_at", descending=order[0][0] == "-")
    if q.get(CURSOR):
        raise FhirError(400, _("A paging cursor goes with _sort=_lastUpdated."))
    tiebreak = "-pk" if order[-1].startswith("-") else "pk"
    return paged(request, "Appointment", qs.order_by(*order, tiebreak), mapper)


_SORT = {"date": "start_at", "_lastUpdated": "updated_at"}


def _identifier_filter(value: str) -> Q:
    """One `identifier` value (comma values OR): `system|value`, `|value` or `value`."""
    q = QueryDict(mutable=True)
    q["identifier"] = value
    cond = Q(pk__in=[])
    for system, code in params.tokens(q, "identifier"):
        match = {"identifiers__value": code}
        if system:
            match["identifiers__system"] = system
        cond |= Q(pk__in=Appointment.objects.filter(**match).values("pk"))
    return cond


def _actor_filter(value: str) -> Q:
    """One `actor` value (comma values OR): any participant, typed or not. A PractitionerRole is a
    practitioner at a site; an unknown type matches nothing."""
    q = QueryDict(mutable=True)
    q["actor"] = value
    cond = Q(pk__in=[])
    for kind, rid in params.typed_references(q, "actor"):
        if kind == "PractitionerRole":
            try:
                pid, sid = ids.parse_pair_id(rid)
            except NotFound:
                continue
            cond |= Q(practitioner_id=pid, site_id=sid)
            continue
        found = valid_uuids([rid])
        if kind in (None, "Patient"):
            cond |= Q(patient_id__in=found)
        if kind in (None, "Practitioner"):
            cond |= Q(practitioner_id__in=found)
        if kind in (None, "Location"):
            cond |= Q(site_id__in=found)
    return cond


def appointment_create(request: HttpRequest, data: dict[str, Any] | None = None) -> HttpResponse:
    """Book: a free Slot for a Patient known to the slot's organization, with the identifiers the
    client gives it. 201, 404 (slot or patient out of scope), 409 (taken meanwhile, or an identifier
    already used), 422 (business rule)."""
    caller = authenticate(request, anonymous_ok=False)
    actor = caller.actor("Appointment", "c")
    booking = appointment_map.booking_from_fhir(data if data is not None else read_body(request, "Appointment"))
    practitioner_id, motif_id, site_id, start = scoped.slot_to_book(booking.slot_id)
    key = request.META.get("HTTP_IDEMPOTENCY_KEY") or None
    a = booking_services.appointment_book(
        actor=actor,
        slot=booking_services.SlotRef(practitioner_id, motif_id, site_id, start),
        patient_id=booking.patient_id,
        idempotency_key=key,
        identifiers=booking.identifiers,
    )
    location = {"Location": f"{params.base_url(request)}Appointment/{a.pk}"}
    try:
        resource = _appointment_resource(caller, booking_selectors.access_appointment(actor, a.pk))
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        # Committed, but the database went away before it could be read back: still a success (201 and
        # the Location to read it from later), never a 503 the client would take for a failed booking.
        logger.warning("fhir: booking %s committed, representation unavailable (%s)", a.pk, type(exc).__name__)
        return HttpResponse(status=201, headers={**location, "Cache-Control": "no-store"})
    return write_response(request, resource, 201, location)


def appointment_conditional_update(request: HttpRequest) -> HttpResponse:
    """`PUT Appointment?identifier=system|value` (the SAS's updates): the search must use supported
    parameters. No match: the body (without an id) books its Slot as `POST Appointment` does (201); a
    body with an id is a 404 (no update-as-create). One match: an update of it, as `PUT
    Appointment/{id}` (a body id must be that one). Several: 412."""
    caller = authenticate(request, anonymous_ok=False)
    if not request.GET:
        raise FhirError(400, _("A conditional update needs search parameters, e.g. identifier=system|value."))
    search.restrict_to_supported(request.GET, "Appointment")
    data = read_body(request, "Appointment")
    actor = caller.actor("Appointment", "u")
    qs = booking_selectors.appointments_visible_to(actor)
    for value in request.GET.getlist("identifier"):
        qs = qs.filter(_identifier_filter(value))
    if "identifier" not in request.GET:
        raise FhirError(400, _("A conditional update of an appointment is by identifier."))
    found = list(qs.values_list("pk", flat=True)[:2])
    if len(found) > 1:
        raise FhirError(412, _("Several appointments match this condition."))
    if not found:
        if "id" in data:
            raise NotFound(_("Unknown appointment."))
        return appointment_create(request, data)
    if data.get("id", str(found[0])) != str(found[0]):
        raise FhirError(400, _("The resource id is not that of the appointment matching the condition."))
    current = booking_selectors.access_appointment(actor, found[0])
    if_match(request, version_id(current.updated_at))
    return _change(request, caller, actor, current, {**data, "id": str(current.pk)})


def appointment_update(request: HttpRequest, rid: str) -> HttpResponse:
    """An update changes the status or the time: `cancelled` cancels, `noshow` or `fulfilled` records
    what happened (once the appointment has started); a new `start` (with its `end`) moves the
    appointment through the reschedule service (the answer is the new appointment, its Location in
    Content-Location). Sending the current values is a no-op; a change to any other element (patient,
    practitioner, visit reason, slot) is refused with a 422, never ignored. `If-Match` must name the
    current version (412 otherwise)."""
    caller = authenticate(request, anonymous_ok=False)
    actor = caller.actor("Appointment", "u")
    current = booking_selectors.access_appointment(actor, rid)
    if_match(request, version_id(current.updated_at))
    data = read_body(request, "Appointment")
    return _change(request, caller, actor, current, data)


# What a JSON Patch may change on an Appointment (`test` may look anywhere).
PATCHABLE = {"/status", "/start", "/end", "/minutesDuration"}


def appointment_patch(request: HttpRequest, rid: str) -> HttpResponse:
    """`PATCH Appointment/{id}` (application/json-patch+json): `replace /status` cancels or records a
    no-show or a visit, `replace /start` (and `/end`, or the end follows) moves it through the
    reschedule service; any other path is a 422. `If-Match` is honoured as for PUT."""
    caller = authenticate(request, anonymous_ok=False)
    actor = caller.actor("Appointment", "u")
    operations = patch.read_patch(request.body)
    current = booking_selectors.access_appointment(actor, rid)
    if_match(request, version_id(current.updated_at))
    now_fhir = _appointment_resource(caller, current)
    data = patch.apply(now_fhir, operations, PATCHABLE)
    if data.get("minutesDuration") != now_fhir["minutesDuration"] and data.get("end") == now_fhir["end"]:
        raise FhirError(422, _("The duration of an appointment is that of its visit reason."))
    if data.get("start") != now_fhir["start"] and data.get("end") == now_fhir["end"]:
        data["end"] = _end_following(data.get("start"), now_fhir)
    return _change(request, caller, actor, current, data)


def _end_following(start: Any, current: dict[str, Any]) -> str:
    """The end that keeps the visit reason's duration after `start` (a patch moving only the start)."""
    try:
        new_start = dt.datetime.fromisoformat(str(start).replace("Z", "+00:00"))
    except ValueError:
        raise FhirError(400, _("Invalid start or end.")) from None
    if new_start.tzinfo is None:
        raise FhirError(400, _("Give start and end with a time zone."))
    end = new_start + dt.timedelta(minutes=int(current["minutesDuration"]))
    return end.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _change(
    request: HttpRequest, caller: Caller, actor: Any, current: Appointment, data: dict[str, Any]
) -> HttpResponse:
    """Apply an updated representation (a PUT body, or the resource with a patch applied)."""
    wanted = appointment_map.status_from_fhir(data, str(current.pk))
    now_fhir = _appointment_resource(caller, current)
    moved = _requested_move(data, now_fhir)
    _refuse_immutable_changes(data, now_fhir)
    headers: dict[str, str] = {}
    if moved is not None:
        if wanted != current.status:
            raise FhirError(422, _("Change either the status or the time of an appointment, not both."))
        new = booking_services.appointment_reschedule(actor=actor, appointment_id=current.pk, new_start=moved)
        current = new
        headers["Content-Location"] = f"{params.base_url(request)}Appointment/{new.pk}"
    elif wanted != current.status:
        if wanted == Status.CANCELLED:
            booking_services.appointment_cancel(actor=actor, appointment_id=current.pk)
        elif wanted in (Status.NO_SHOW, Status.FULFILLED):
            booking_services.appointment_mark(actor=actor, appointment_id=current.pk, status=wanted)
        else:
            raise FhirError(422, _("An update can only cancel, move or mark an appointment noshow or fulfilled."))
    a = booking_selectors.access_appointment(actor, current.pk)
    return write_response(request, _appointment_resource(caller, a), 200, headers)


def _requested_move(data: dict[str, Any], current: dict[str, Any]) -> dt.datetime | None:
    """The new start asked for, or None when start and end are unchanged. The duration is the visit
    reason's: an end that does not match it is a 422."""
    start, end = data.get("start", current["start"]), data.get("end", current["end"])
    if start == current["start"] and end == current["end"]:
        return None
    try:
        new_start = dt.datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        new_end = dt.datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        raise FhirError(400, _("Invalid start or end.")) from None
    if new_start.tzinfo is None or new_end.tzinfo is None:
        raise FhirError(400, _("Give start and end with a time zone."))
    duration = dt.datetime.fromisoformat(current["end"].replace("Z", "+00:00")) - dt.datetime.fromisoformat(
        current["start"].replace("Z", "+00:00")
    )
    if new_end - new_start != duration:
        raise FhirError(422, _("The duration of an appointment is that of its visit reason."))
    return new_start


# Elements an update may not change (only status, start, end and minutesDuration may).
_IMMUTABLE = ("serviceType", "specialty", "slot", "participant", "appointmentType", "created", "identifier")


def _refuse_immutable_changes(data: dict[str, Any], current: dict[str, Any]) -> None:
    if data.get("identifier") and "identifier" not in current:
        raise FhirError(422, _("The identifiers of an appointment cannot be changed."))
    for element in _IMMUTABLE:
        if element not in data or element not in current:
            continue
        if element == "participant":
            # Participants named by identifier only (the SAS's practitioner) are not compared.
            sent = sorted(
                str((p.get("actor") or {}).get("reference"))
                for p in data[element]
                if isinstance(p, dict) and isinstance(p.get("actor"), dict) and "reference" in p["actor"]
            )
            have = sorted(str((p.get("actor") or {}).get("reference")) for p in current[element])
            if not set(sent) <= set(have):
                raise FhirError(422, _("The participants of an appointment cannot be changed."))
            continue
        if element in ("slot", "created"):
            continue  # follows the time; set by the server
        if element == "identifier":
            sent_ids = {(i.get("system"), i.get("value")) for i in data[element] if isinstance(i, dict)}
            if sent_ids != {(i["system"], i["value"]) for i in current[element]}:
                raise FhirError(422, _("The identifiers of an appointment cannot be changed."))
            continue
        if data[element] != current[element]:
            raise FhirError(
                422, _("This element of an appointment cannot be changed: %(element)s.") % {"element": element}
            )
