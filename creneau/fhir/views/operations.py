"""IHE ITI Scheduling operations on Appointment: `$find` (proposed appointments from the real slot
engine, only those the given patient may book), `$hold` (a short hold: booking's holds) and `$book`
(confirm a hold, or book a proposed appointment, through the booking services with the same rules and
audit as `POST Appointment`). Inputs are checked strictly: anything unknown or malformed is a 400
OperationOutcome, and a refusal leaves nothing behind."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.translation import gettext as _

from creneau.booking import selectors as booking_selectors
from creneau.booking import services as booking_services
from creneau.booking.models import Appointment
from creneau.core import clock
from creneau.core.actors import Actor
from creneau.core.errors import NotFound
from creneau.directory.models import Site
from creneau.patients.models import Patient
from creneau.patients.selectors import access_patient
from creneau.scheduling import selectors as slot_selectors
from creneau.scheduling.models import Motif

from .. import params
from .. import selectors as scoped
from ..http import Caller, FhirError, authenticate, fhir_response, read_body
from ..mappers import appointment as appointment_map
from ..mappers.common import MOTIF_SYSTEM, SPECIALTY_SYSTEM, instant, parse_incoming, reference_id, validated
from .common import valid_uuids

# $find's input parameters (IHE names; `appointment-type`, `visit-type` and `service-type` all name
# the visit reason, a HealthcareService id, with or without the motif system).
_FIND_PARAMS = {
    "start",
    "end",
    "specialty",
    "appointment-type",
    "visit-type",
    "service-type",
    "practitioner",
    "organization",
    "location",
    "patient",
    "_count",
}
_SINGLE = {"start", "end", "patient", "_count"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_VALUE_KEYS = (
    "valueDateTime",
    "valueInstant",
    "valueDate",
    "valueString",
    "valueCode",
    "valueToken",
    "valueUri",
    "valueId",
    "valueInteger",
    "valuePositiveInt",
)
MAX_FIND_VALUES = 100


def _value_text(param: dict[str, Any]) -> str:
    """One Parameters.parameter as search-style text: a Coding as system|code, a Reference as its
    reference, a primitive as itself. Anything else is a 400."""
    if isinstance(param.get("valueCoding"), dict):
        coding = param["valueCoding"]
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(code, str) or (system is not None and not isinstance(system, str)):
            raise FhirError(400, _("A Parameters value is not valid."))
        return f"{system}|{code}" if system else code
    if isinstance(param.get("valueReference"), dict):
        text = param["valueReference"].get("reference")
        if not isinstance(text, str):
            raise FhirError(400, _("A Parameters value is not valid."))
        return text
    present = [k for k in _VALUE_KEYS if k in param]
    if len(present) != 1 or isinstance(param[present[0]], bool):
        raise FhirError(400, _("A Parameters value is not valid."))
    value = param[present[0]]
    if not isinstance(value, str | int):
        raise FhirError(400, _("A Parameters value is not valid."))
    return str(value)


def _parameters(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("parameter", [])
    if not isinstance(items, list) or not all(isinstance(p, dict) and isinstance(p.get("name"), str) for p in items):
        raise FhirError(400, _("Parameters.parameter must be a list of named parameters."))
    return items


def _find_arguments(request: HttpRequest) -> dict[str, list[str]]:
    """The inputs of `$find`, from the query (GET) or a Parameters body (POST)."""
    pairs: list[tuple[str, str]] = []
    if request.method == "POST":
        for p in _parameters(read_body(request, "Parameters")):
            pairs.append((p["name"], _value_text(p)))
    else:
        pairs = [(name, value) for name in request.GET for value in request.GET.getlist(name)]
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise FhirError(400, _("A parameter contains control characters."))
        if name not in _FIND_PARAMS:
            raise FhirError(400, _("Unknown parameter of this operation."))
        if value == "":
            continue
        out.setdefault(name, []).append(value)
    for name in _SINGLE:
        if len(out.get(name, [])) > 1:
            raise FhirError(400, _("Give %(name)s at most once.") % {"name": name})
    if sum(v.count(",") + 1 for values in out.values() for v in values) > MAX_FIND_VALUES:
        raise FhirError(400, _("Too many values in this request."))
    return out


def _moment(name: str, raw: str, *, end: bool) -> dt.datetime:
    """A dateTime or a date (a date as `end` includes that whole day, in Europe/Paris)."""
    if not raw[:1].isdigit():
        raise FhirError(400, _("Invalid date in parameter %(name)s.") % {"name": name})
    bound = params.parse_date(name, raw)
    return bound.hi if end and "T" not in raw else bound.lo


def _split(values: list[str]) -> list[str]:
    return [part for v in values for part in v.split(",") if part]


def _codes(values: list[str], system: str) -> list[str]:
    out = []
    for part in _split(values):
        sys_, _sep, code = part.rpartition("|")
        if sys_ in ("", system):
            out.append(code)
    return out


def _ids(values: list[str], rtype: str) -> list[uuid.UUID]:
    """UUIDs of `Type/id` references or bare ids; a reference to another type is a 400."""
    out = []
    for part in _split(values):
        segments = part.rstrip("/").split("/")
        if len(segments) >= 2 and segments[-2] != rtype:
            raise FhirError(400, _("This parameter expects a %(type)s reference.") % {"type": rtype})
        out += valid_uuids([segments[-1]])
    return out


def appointment_find(request: HttpRequest) -> HttpResponse:
    """`Appointment/$find`: proposed Appointments (status proposed) for free slots between `start` and
    `end` (both required, at most CRENEAU_FHIR_SLOT_WINDOW_DAYS apart), narrowed by specialty, visit
    reason, practitioner, organization and location. With `patient`, only the slots that patient may
    book (who may book the visit reason, age limits, new patients accepted), among the organizations
    where the client may book."""
    caller = authenticate(request, anonymous_ok=False)
    args = _find_arguments(request)
    if "start" not in args or "end" not in args:
        raise FhirError(400, _("$find needs a start and an end."))
    start = _moment("start", args["start"][0], end=False)
    end = _moment("end", args["end"][0], end=True)
    if end <= start:
        raise FhirError(400, _("The end must come after the start."))
    if end - start > dt.timedelta(days=settings.CRENEAU_FHIR_SLOT_WINDOW_DAYS):
        raise FhirError(
            400, _("At most %(n)d days between start and end.") % {"n": settings.CRENEAU_FHIR_SLOT_WINDOW_DAYS}
        )
    count = min(params.page(_count_query(args)).count, settings.CRENEAU_FHIR_MAX_COUNT)
    orgs = caller.organizations("Slot", "s") or frozenset()
    patient: Patient | None = None
    actor: Actor | None = None
    if "patient" in args:
        actor = caller.actor("Appointment", "c")
        orgs = orgs & actor.organization_ids
        pid = _ids(args["patient"], "Patient")
        if len(pid) != 1:
            raise NotFound(_("Unknown patient."))
        patient = access_patient(actor, pid[0])
    motifs = scoped.motifs(orgs).filter(bookable_online=True)
    if "specialty" in args:
        motifs = motifs.filter(practitioner__specialty_id__in=_codes(args["specialty"], SPECIALTY_SYSTEM))
    kinds = args.get("appointment-type", []) + args.get("visit-type", []) + args.get("service-type", [])
    if kinds:
        motifs = motifs.filter(pk__in=valid_uuids(_codes(kinds, MOTIF_SYSTEM)))
    if performers := args.get("practitioner"):
        motifs = motifs.filter(practitioner_id__in=_ids(performers, "Practitioner"))
    if "organization" in args:
        motifs = motifs.filter(agenda__organization_id__in=_ids(args["organization"], "Organization"))
    chosen = list(motifs[: settings.CRENEAU_FHIR_LIVE_SLOT_AGENDAS + 1])
    if len(chosen) > settings.CRENEAU_FHIR_LIVE_SLOT_AGENDAS:
        raise FhirError(400, _("Too many agendas match: narrow the search (practitioner, specialty, location)."))
    sites = {
        s.pk: s
        for s in scoped.sites(orgs).filter(
            pk__in=scoped.roles(orgs).filter(practitioner_id__in={m.practitioner_id for m in chosen}).values("site_id")
        )
    }
    if "location" in args:
        wanted = set(_ids(args["location"], "Location"))
        sites = {k: v for k, v in sites.items() if k in wanted}
    roles = set(
        scoped.roles(orgs)
        .filter(practitioner_id__in={m.practitioner_id for m in chosen}, site_id__in=list(sites))
        .values_list("practitioner_id", "site_id")
    )
    found = _free(chosen, sites, roles, max(start, clock.now()), end)
    if patient is not None and actor is not None:
        found = _bookable_by(actor, patient, found, sites)
    found.sort(key=lambda r: (r[0], r[1].pk.int, r[2].int))
    proposals = [
        appointment_map.proposed_to_fhir(motif, sites[site_id], moment, patient_id=patient.pk if patient else None)
        for moment, motif, site_id in found[:count]
    ]
    return fhir_response(_bundle(proposals, total=len(found)))


def _count_query(args: dict[str, list[str]]) -> QueryDict:
    q = QueryDict(mutable=True)
    if "_count" in args:
        q["_count"] = args["_count"][0]
    return q


def _free(
    motifs: list[Motif],
    sites: dict[uuid.UUID, Site],
    roles: set[tuple[uuid.UUID, uuid.UUID]],
    lo: dt.datetime,
    hi: dt.datetime,
) -> list[tuple[dt.datetime, Motif, uuid.UUID]]:
    """Free slots of these visit reasons in [lo, hi) from the agendas themselves (notice and horizon
    of each visit reason applied by the engine), at visible sites where the practitioner works."""
    if hi <= lo or not motifs or not sites:
        return []
    pids = list({m.practitioner_id for m in motifs})
    rules = slot_selectors.rule_specs(pids)
    busy = slot_selectors.busy_intervals(pids, start=lo, end=hi + dt.timedelta(hours=12))
    tzs = slot_selectors.site_time_zones(set(sites))
    now = clock.now()
    out = []
    for motif in motifs:
        for slot in slot_selectors.compute_slots(
            motif=motif,
            rules=rules.get(motif.practitioner_id, []),
            busy=busy.get(motif.practitioner_id, []),
            tzs=tzs,
            start=lo,
            end=hi,
            now=now,
        ):
            if slot.site_id in sites and (motif.practitioner_id, slot.site_id) in roles:
                out.append((slot.start, motif, slot.site_id))
    return out


def _bookable_by(
    actor: Actor, patient: Patient, found: list[tuple[dt.datetime, Motif, uuid.UUID]], sites: dict[uuid.UUID, Site]
) -> list[tuple[dt.datetime, Motif, uuid.UUID]]:
    """The slots whose booking the patient's profile would not refuse (one 'already seen' query per
    practitioner; the age on each day)."""
    known: dict[uuid.UUID, bool] = {}
    verdict: dict[tuple[uuid.UUID, uuid.UUID, dt.date], bool] = {}
    out = []
    for moment, motif, site_id in found:
        site = sites[site_id]
        if motif.practitioner_id not in known:
            known[motif.practitioner_id] = booking_selectors.is_known_patient(
                patient_id=patient.pk, practitioner_id=motif.practitioner_id
            )
        key = (motif.pk, site_id, moment.astimezone(site.tz).date())
        if key not in verdict:
            verdict[key] = (
                booking_services.audience_refusal(
                    actor, motif, patient, start=moment, site=site, known=known[motif.practitioner_id]
                )
                is None
            )
        if verdict[key]:
            out.append((moment, motif, site_id))
    return out


def _bundle(resources: list[dict[str, Any]], *, total: int) -> dict[str, Any]:
    entries = []
    for r in resources:
        # Proposals are not stored: a stable URN names each (the slot, and the patient if given).
        if "id" in r:
            full = f"Appointment/{r['id']}"
        else:
            seed = json.dumps([r.get("slot"), r.get("participant")], sort_keys=True)
            full = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, seed)}"
        entries.append({"fullUrl": full, "resource": r, "search": {"mode": "match"}})
    body: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": total}
    if entries:
        body["entry"] = entries
    return body


# --- $hold and $book -------------------------------------------------------------------------------


def _appointment_input(request: HttpRequest) -> dict[str, Any]:
    """The Appointment of a `$hold`/`$book` request: a Parameters body with `appt-resource` (IHE), or
    the Appointment itself."""
    if _peek(request).get("resourceType") == "Appointment":
        return read_body(request, "Appointment")
    body = read_body(request, "Parameters")
    found = [p for p in _parameters(body) if p["name"] == "appt-resource"]
    if len(found) != 1 or any(p["name"] != "appt-resource" for p in _parameters(body)):
        raise FhirError(400, _("Send one appt-resource parameter, an Appointment."))
    resource = found[0].get("resource")
    if not isinstance(resource, dict) or resource.get("resourceType") != "Appointment":
        raise FhirError(400, _("Send one appt-resource parameter, an Appointment."))
    return resource


def _peek(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _slot_and_patient(data: dict[str, Any]) -> tuple[str, str | None]:
    """(Slot id, Patient id or None) of an Appointment sent to an operation; validated as R4."""
    model = parse_incoming("Appointment", data)
    slots = model.slot or []
    if len(slots) != 1:
        raise FhirError(422, _("Reference exactly one free Slot to book."))
    patients = [
        part.actor
        for part in (model.participant or [])
        if part.actor and (part.actor.reference or "").count("Patient/")
    ]
    if len(patients) > 1:
        raise FhirError(422, _("Reference exactly one Patient among the participants."))
    patient = reference_id(patients[0], "Patient", "Appointment.participant.actor") if patients else None
    return reference_id(slots[0], "Slot", "Appointment.slot"), patient


def _operation_bundle(caller: Caller, a: Appointment, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    readable = caller.has("Patient", "r") and a.organization_id in (caller.organizations("Patient", "r") or ())
    resource = appointment_map.to_fhir(a, patient_display=readable)
    if extra:
        resource.update(extra)
        resource = validated(resource)
    return _bundle([resource], total=1)


def appointment_hold(request: HttpRequest) -> HttpResponse:
    """`Appointment/$hold`: hold a proposed appointment's slot for CRENEAU_HOLD_MINUTES. With a patient
    participant, the patient's eligibility is checked first (a refusal holds nothing). The answer is
    the held Appointment (status pending; `hold-expires` extension); `$book` with its id confirms it."""
    caller = authenticate(request, anonymous_ok=False)
    actor = caller.actor("Appointment", "c")
    slot_id, patient_id = _slot_and_patient(_appointment_input(request))
    practitioner_id, motif_id, site_id, start = scoped.slot_to_book(slot_id)
    ref = booking_services.SlotRef(practitioner_id, motif_id, site_id, start)
    if patient_id is not None:
        patient = access_patient(actor, patient_id)
        motif, site = booking_services.slot_check(actor=actor, slot=ref)
        known = booking_selectors.is_known_patient(patient_id=patient.pk, practitioner_id=motif.practitioner_id)
        refusal = booking_services.audience_refusal(actor, motif, patient, start=start, site=site, known=known)
        if refusal is not None:
            raise refusal
    hold = booking_services.slot_hold(actor=actor, slot=ref)
    hold = booking_selectors.access_hold(actor, hold.pk)
    assert hold.hold_expires_at is not None  # a held row always expires (appointment_hold_expires)
    expires = {
        "extension": [{"url": appointment_map.HOLD_EXPIRES_EXTENSION, "valueInstant": instant(hold.hold_expires_at)}]
    }
    return fhir_response(_operation_bundle(caller, hold, expires))


def appointment_book(request: HttpRequest) -> HttpResponse:
    """`Appointment/$book`: an Appointment with the id of a hold this client placed confirms it for the
    patient participant (`hold_confirm`); one without an id books its Slot at once (`appointment_book`,
    as `POST Appointment`). The same rules, refusals and audit as a booking by POST."""
    caller = authenticate(request, anonymous_ok=False)
    actor = caller.actor("Appointment", "c")
    data = _appointment_input(request)
    hold_id = data.pop("id", None)
    slot_id, patient_id = _slot_and_patient(data)
    if patient_id is None:
        raise FhirError(422, _("Reference exactly one Patient among the participants."))
    key = request.META.get("HTTP_IDEMPOTENCY_KEY") or None
    if hold_id is not None:
        if not isinstance(hold_id, str):
            raise FhirError(400, _("The id of a hold is a string."))
        booked = booking_services.hold_confirm(actor=actor, hold_id=hold_id, patient_id=patient_id, idempotency_key=key)
    else:
        practitioner_id, motif_id, site_id, start = scoped.slot_to_book(slot_id)
        booked = booking_services.appointment_book(
            actor=actor,
            slot=booking_services.SlotRef(practitioner_id, motif_id, site_id, start),
            patient_id=patient_id,
            idempotency_key=key,
        )
    a = booking_selectors.access_appointment(actor, booked.pk)
    location = {"Content-Location": f"{params.base_url(request)}Appointment/{a.pk}"}
    return fhir_response(_operation_bundle(caller, a), 200, location)
