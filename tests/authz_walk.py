"""Machinery of the authorization matrix (tests/test_authz_matrix.py): the URL configuration walked into
routes, a route turned into a concrete path for one persona, a response classified into the matrix's
small vocabulary, and the write statements a request issued."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, resolve

from . import authz_world as w

# Outcome vocabulary.
OK = "OK"  # 2xx
REDIRECT = "REDIRECT"  # 3xx elsewhere than a sign-in page (done, or the next step)
LOGIN = "LOGIN"  # 3xx to a sign-in page (the site's or the Django admin's)
INVALID = "INVALID"  # 400 / 422: past the checks, refused on content
UNAUTHORIZED = "UNAUTHORIZED"  # 401 (API: no or bad token)
FORBIDDEN = "FORBIDDEN"  # 403
SUSPENDED = "SUSPENDED"  # 403 with the machine-readable reason "suspended"
NOT_FOUND = "NOT_FOUND"  # 404
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"  # 405
CONFLICT = "CONFLICT"  # 409
VOCABULARY = {OK, REDIRECT, LOGIN, INVALID, UNAUTHORIZED, FORBIDDEN, SUSPENDED, NOT_FOUND, METHOD_NOT_ALLOWED, CONFLICT}
REFUSED = {LOGIN, INVALID, UNAUTHORIZED, FORBIDDEN, SUSPENDED, NOT_FOUND, METHOD_NOT_ALLOWED, CONFLICT}

LOGIN_PATHS = ("/accounts/login/", "/login/", "/admin/login/")


def classify(response: Any) -> str:
    status = response.status_code
    if status == 403 and response.get("Creneau-Refusal") == "suspended":
        return SUSPENDED
    if 200 <= status < 300:
        return OK
    if 300 <= status < 400:
        location = response.get("Location", "").split("?")[0]
        location = re.sub(r"^https?://[^/]+", "", location)
        location = re.sub(r"^/(en|fr)/", "/", location)
        return LOGIN if location in LOGIN_PATHS else REDIRECT
    return {
        400: INVALID,
        422: INVALID,
        401: UNAUTHORIZED,
        403: FORBIDDEN,
        404: NOT_FOUND,
        405: METHOD_NOT_ALLOWED,
        409: CONFLICT,
    }.get(status, f"HTTP {status}")


@dataclasses.dataclass(frozen=True)
class Route:
    key: str  # "namespace:name", or the full route string of an unnamed pattern
    route: str  # the full route string, prefixes included
    params: tuple[str, ...]


def _route_params(route: str) -> tuple[str, ...]:
    names = re.findall(r"<(?:\w+:)?(\w+)>", route)
    names += re.findall(r"\(\?P<(\w+)>", route)
    return tuple(names)


def routes() -> list[Route]:
    """Every URL pattern of the project, walked recursively from the root resolver."""
    out: list[Route] = []

    def walk(resolver: URLResolver, prefix: str, namespaces: tuple[str, ...]) -> None:
        for p in resolver.url_patterns:
            text = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p, text, namespaces + ((p.namespace,) if p.namespace else ()))
            else:
                assert isinstance(p, URLPattern)
                key = ":".join((*namespaces, p.name)) if p.name else text
                out.append(Route(key, text, _route_params(text)))

    walk(get_resolver(), "", ())
    return out


def path_for(route: Route, values: dict[str, str]) -> str:
    """A concrete path of the route with these parameter values (checked to resolve back to it)."""
    text = route.route

    def value(m: re.Match[str]) -> str:
        return values[m.group(1)]

    text = re.sub(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", value, text)
    text = re.sub(r"<(?:\w+:)?(\w+)>", value, text)
    # Anchors go; a literal `$` before a name stays (the FHIR operations, `Appointment/$find`).
    text = re.sub(r"\$(?![A-Za-z])", "", text.replace("^", "")).replace(".*", "Nothing")
    path = "/" + text
    match = resolve(path)
    assert match.route.replace("^", "") == route.route.replace("^", ""), (
        f"{path} resolves to {match.route}, not {route.route}"
    )
    return path


ID_PARAMS = {
    "agenda_id",
    "appointment_id",
    "hold_id",
    "motif_id",
    "offer_id",
    "patient_id",
    "export_id",
    "organization_id",
    "grant_id",
    "practitioner_id",
    "rid",
    "object_id",
    "membership_id",
    "invitation_id",
    "passkey_id",
}


PUBLIC_FHIR_TYPES = (
    "Organization",
    "Location",
    "Practitioner",
    "PractitionerRole",
    "HealthcareService",
    "Schedule",
    "Slot",
)


def fhir_type(route: Route) -> str | None:
    m = re.match(r"fhir:(\w+)-(?:type|instance)$", route.key)
    return m.group(1) if m else None


def values_for(world: w.World, persona: str, route: Route) -> dict[str, str]:
    """URL parameters filled with the objects this persona is judged on: their own where they have
    some (a patient's appointment, the relative's for the account that manages them), else those of
    organization A and of the patient (agenda X, its visit reason, the patient's appointment...)."""
    mine = {
        w.PATIENT: (world.appointment, world.hold, world.offer, world.patient),
        w.RELATIVE: (world.relative_appointment, world.relative_hold, world.relative_offer, world.relative),
    }
    appointment, hold, offer, patient = mine.get(persona, mine[w.PATIENT])
    x = world.agenda_x
    values = {
        "agenda_id": str(x.pk),
        "appointment_id": str(appointment.pk),
        "hold_id": str(hold.pk),
        "offer_id": str(offer.pk),
        "patient_id": str(patient.pk),
        "fmt": "json",
        "motif_id": str(world.motif_x.pk),
        "export_id": str(world.export.pk),
        "organization_id": str(world.org_a.pk),
        "grant_id": str(world.grant_a.pk),
        "membership_id": str(world.membership.pk),
        "invitation_id": str(world.invitation.pk),
        "passkey_id": str(world.passkey.pk),
        "practitioner_id": str(x.practitioner_id),
        "uidb64": w.uid_of(world.users[w.PATIENT]),
        "token": "not-a-valid-token",
        "app_label": "directory",
        "url": "nothing/here/",
        "content_type_id": w.content_type_id_of(type(world.org_a)),
        "object_id": str(world.org_a.pk),
    }
    rtype = fhir_type(route)
    if rtype:
        values["rid"] = fhir_ids(world)[rtype]
    admin_model = re.match(r"admin/(\w+)/(\w+)/", route.route)
    if admin_model and "object_id" in route.params and route.key != "admin:view_on_site":
        values["object_id"] = w.admin_object_id(f"{admin_model.group(1)}_{admin_model.group(2)}")
    return values


def missing_values(values: dict[str, str], route: Route) -> dict[str, str]:
    """The same parameters with every object id replaced by one that names nothing."""
    out = dict(values)
    rtype = fhir_type(route)
    for name in ID_PARAMS & set(route.params):
        kind = "uuid"
        if name == "rid" and rtype in ("PractitionerRole", "Schedule"):
            kind = "pair"
        elif name == "rid" and rtype == "Slot":
            kind = "slot"
        out[name] = w.made_up(kind)
    return out


def fhir_ids(world: w.World) -> dict[str, str]:
    from creneau.fhir.ids import pair_id, slot_id
    from creneau.fhir.models import Subscription

    doc, site = world.agenda_x.practitioner_id, world.site_a.pk
    return {
        "Organization": str(world.org_a.pk),
        "Location": str(site),
        "Practitioner": str(doc),
        "PractitionerRole": pair_id(doc, site),
        "HealthcareService": str(world.motif_x.pk),
        "Schedule": pair_id(doc, site),
        "Slot": slot_id(world.motif_x.pk, site, w.SLOT_START),
        "Appointment": str(world.appointment.pk),
        "Patient": str(world.patient.pk),
        "Subscription": str(Subscription.objects.order_by("created_at").values_list("pk", flat=True)[0]),
    }


_CSRF = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]+"|("csrfToken": ?")[^"]+"')
_NONCE = re.compile(rb'nonce="[^"]+"')


def normalized(body: bytes, ids: list[str]) -> bytes:
    """A response body without its per-request tokens, and with the ids of the request as ID."""
    body = _CSRF.sub(b"CSRF", body)
    body = _NONCE.sub(b"NONCE", body)
    for value in sorted(ids, key=len, reverse=True):
        body = body.replace(value.encode(), b"ID")
    return body


def personal_markers(world: w.World) -> list[str]:
    """Strings of the world that are personal data: every account's e-mail, the invited address, the
    patients' names and phone numbers. A response that shows one of them must not be cached."""
    from creneau.patients.models import Patient

    markers = [u.email for u in world.users.values()] + ["nouvelle@example.invalid"]
    for p in Patient.objects.all():
        markers += [p.family_name, p.phone or "", national(p.phone or "")]
        markers += [m for m in (p.email or "",) if m]
    return sorted({m for m in markers if len(m) >= 5})


def national(phone: str) -> str:
    """The number as pages show it (06 39 98 00 01), or "" when it is not a valid one."""
    import phonenumbers

    try:
        number = phonenumbers.parse(phone, "FR")
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def cache_exposure(persona: str, response: Any, markers: list[str]) -> str | None:
    """Why this response could leak personal data through a cache, or None: every answer to a session
    or a token must say `Cache-Control: no-store` and `Pragma: no-cache` (it may carry the persona's data),
    and an answer without them must not contain any personal datum of the world."""
    if response is None:
        return None
    if "no-store" in response.get("Cache-Control", "") and response.get("Pragma") == "no-cache":
        return None
    if persona != w.ANON:
        return f"no Cache-Control: no-store / Pragma: no-cache (got {response.get('Cache-Control')!r})"
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    found = [m for m in markers if m.encode() in body]
    return f"personal data {found} in a cacheable answer" if found else None


WRITE_SQL = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([\w.]+)"?', re.IGNORECASE)


def written_tables(queries: list[dict[str, Any]]) -> set[str]:
    out = set()
    for q in queries:
        m = WRITE_SQL.match(q["sql"])
        if m:
            out.add(m.group(1).split(".")[-1].strip('"'))
    return out
