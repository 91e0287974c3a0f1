"""The authorization matrix of the FHIR API, endpoint by endpoint and method by method: a client
granted for organization A gets 404 on B's objects (exactly like a made-up id), 403 when its token
lacks the scope, 401 without a token; revoking the grant stops it on the next request."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from creneau.accounts.models import Role
from creneau.fhir.ids import pair_id, slot_id
from creneau.fhir.models import ApiGrant

from . import factories as f
from .fhir_support import (
    Api,
    Tenant,
    booking_body,
    grant,
    register_client,
    reset_rate_limits,
    tenant,
    token,
    token_response,
)

READ_TYPES = [
    "Organization",
    "Location",
    "Practitioner",
    "PractitionerRole",
    "HealthcareService",
    "Schedule",
    "Slot",
    "Appointment",
    "Patient",
]
PUBLIC_TYPES = READ_TYPES[:7]
SLOT_START = f.paris(2026, 3, 4, 10, 0)


def object_id(t: Tenant, rtype: str) -> str:
    return {
        "Organization": str(t.org.pk),
        "Location": str(t.site.pk),
        "Practitioner": str(t.doc.pk),
        "PractitionerRole": t.role_id,
        "HealthcareService": str(t.motif.pk),
        "Schedule": t.role_id,
        "Slot": t.slot_id(SLOT_START),
        "Appointment": str(t.appointment.pk),
        "Patient": str(t.patient.pk),
    }[rtype]


def made_up_id(rtype: str) -> str:
    """An id of the right shape that names nothing."""
    if rtype in ("PractitionerRole", "Schedule"):
        return pair_id(uuid.uuid4(), uuid.uuid4())
    if rtype == "Slot":
        return slot_id(uuid.uuid4(), uuid.uuid4(), SLOT_START)
    return str(uuid.uuid4())


@pytest.fixture
def world2(db: None, monday_morning: None, client: Client) -> dict[str, Any]:
    reset_rate_limits()
    a = tenant("Cabinet A")
    b = tenant("Cabinet B")
    client_id, secret = register_client()
    grant(client_id, a.org)
    return {"a": a, "b": b, "client": client, "client_id": client_id, "secret": secret}


def api_for(w: dict[str, Any], scope: str | None = None) -> Api:
    return Api(w["client"], token(w["client"], w["client_id"], w["secret"], scope))


# --- 404: other organizations' objects are indistinguishable from made-up ids -----------------------


@pytest.mark.parametrize("rtype", READ_TYPES)
def test_reading_another_organizations_object_answers_exactly_like_a_missing_one(
    world2: dict[str, Any], rtype: str
) -> None:
    api = api_for(world2)
    mine = api.get(f"{rtype}/{object_id(world2['a'], rtype)}")
    assert mine.status_code == 200, mine.content
    theirs = api.get(f"{rtype}/{object_id(world2['b'], rtype)}")
    missing = api.get(f"{rtype}/{made_up_id(rtype)}")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert theirs.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("rtype", [t for t in READ_TYPES if t != "Slot"])
def test_searches_never_return_another_organizations_objects(world2: dict[str, Any], rtype: str) -> None:
    api = api_for(world2)
    criteria = {"Patient": {"phone": "+33639980011"}}.get(rtype, {})
    bundle = api.get(rtype, criteria).json()
    found = {e["resource"]["id"] for e in bundle["entry"]}
    assert object_id(world2["a"], rtype) in found
    assert object_id(world2["b"], rtype) not in found
    assert api.get(rtype, {"_id": object_id(world2["b"], rtype)}).json()["total"] == 0


def test_slot_searches_never_return_another_organizations_slots(world2: dict[str, Any]) -> None:
    api = api_for(world2)
    b: Tenant = world2["b"]
    assert api.get("Slot", {"schedule": f"Schedule/{b.role_id}"}).json()["total"] == 0
    assert api.get("Slot", {"service-type": str(b.motif.pk)}).json()["total"] == 0
    by_specialty = api.get("Slot", {"specialty": "SM15", "_count": 100}).json()
    schedules = {e["resource"]["schedule"]["reference"] for e in by_specialty["entry"]}
    assert schedules == {f"Schedule/{world2['a'].role_id}"}


def test_booking_another_organizations_slot_answers_404(world2: dict[str, Any]) -> None:
    api = api_for(world2)
    a: Tenant = world2["a"]
    b: Tenant = world2["b"]
    theirs = api.post("Appointment", booking_body(b.slot_id(SLOT_START), a.patient.pk))
    missing = api.post("Appointment", booking_body(made_up_id("Slot"), a.patient.pk))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    # B's practitioner's motif at A's site, or A's motif at B's site: forged ids are refused too.
    forged = slot_id(a.motif.pk, b.site.pk, SLOT_START)
    assert api.post("Appointment", booking_body(forged, a.patient.pk)).status_code == 404


def test_booking_for_another_organizations_patient_answers_404(world2: dict[str, Any]) -> None:
    api = api_for(world2)
    a: Tenant = world2["a"]
    b: Tenant = world2["b"]
    theirs = api.post("Appointment", booking_body(a.slot_id(SLOT_START), b.patient.pk))
    missing = api.post("Appointment", booking_body(a.slot_id(SLOT_START), uuid.uuid4()))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()


def test_cancelling_another_organizations_appointment_answers_404(world2: dict[str, Any]) -> None:
    api = api_for(world2)
    b: Tenant = world2["b"]
    body = {"resourceType": "Appointment", "id": str(b.appointment.pk), "status": "cancelled"}
    response = api.put(f"Appointment/{b.appointment.pk}", body)
    assert response.status_code == 404
    b.appointment.refresh_from_db()
    assert b.appointment.status == "booked"


def test_creating_a_patient_for_another_organization_answers_404(world2: dict[str, Any]) -> None:
    api = api_for(world2)
    body = {
        "resourceType": "Patient",
        "name": [{"family": "Durand", "given": ["Léa"]}],
        "birthDate": "1990-04-02",
        "managingOrganization": {"reference": f"Organization/{world2['b'].org.pk}"},
    }
    before = written()
    assert api.post("Patient", body).status_code == 404
    assert written() == before  # no patient, no appointment, nothing half made


# --- 403: the token's scopes ---------------------------------------------------------------------------


def every_interaction(w: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """(resource type, method, path, body) for every endpoint and method of the API."""
    a: Tenant = w["a"]
    out: list[tuple[str, str, str, Any]] = []
    for rtype in READ_TYPES:
        out.append((rtype, "GET", f"{rtype}/{object_id(a, rtype)}", None))
        search = {"Slot": "Slot?schedule=" + a.role_id, "Patient": "Patient?phone=%2B33639980011"}
        out.append((rtype, "GET", search.get(rtype, rtype), None))
    out.append(("Appointment", "POST", "Appointment", booking_body(a.slot_id(SLOT_START), a.patient.pk)))
    out.append(
        (
            "Appointment",
            "PUT",
            f"Appointment/{a.appointment.pk}",
            {"resourceType": "Appointment", "id": str(a.appointment.pk), "status": "cancelled"},
        )
    )
    out.append(
        (
            "Patient",
            "POST",
            "Patient",
            {
                "resourceType": "Patient",
                "name": [{"family": "Durand", "given": ["Léa"]}],
                "birthDate": "1990-04-02",
                "managingOrganization": {"reference": f"Organization/{a.org.pk}"},
            },
        )
    )
    return out


def call(api: Api, method: str, path: str, body: Any) -> Any:
    if method == "GET":
        return api.client.get(f"/fhir/R4/{path}", **api._headers())
    if method == "POST":
        return api.post(path, body)
    return api.put(path, body)


def test_every_interaction_needs_its_scope(world2: dict[str, Any]) -> None:
    """A token with every scope but one resource type's gets 403 on exactly that type's endpoints."""
    interactions = every_interaction(world2)
    for rtype in READ_TYPES:
        others = " ".join(f"system/{t}.cruds" for t in READ_TYPES if t != rtype)
        api = api_for(world2, others)
        for itype, method, path, body in interactions:
            response = call(api, method, path, body)
            if itype == rtype:
                assert response.status_code == 403, (method, path)
                assert response.json()["issue"][0]["code"] == "forbidden"
            else:
                assert response.status_code != 403, (method, path, response.content)


def written() -> tuple[object, ...]:
    """What a refused write must leave as it was: how many patients and appointments, and the last change."""
    from django.db.models import Max

    from creneau.booking.models import Appointment
    from creneau.patients.models import Patient

    return (
        Patient.objects.count(),
        Appointment.objects.count(),
        Appointment.objects.aggregate(m=Max("updated_at"))["m"],
        Patient.objects.aggregate(m=Max("updated_at"))["m"],
    )


def test_read_only_scopes_do_not_allow_writes(world2: dict[str, Any]) -> None:
    api = api_for(world2, "system/*.rs")
    before = written()
    for _t, method, path, body in every_interaction(world2):
        expected = 403 if method != "GET" else 200
        assert call(api, method, path, body).status_code == expected, (method, path)
    assert written() == before  # every write refused left no row changed


# --- 401: no token, bad token ---------------------------------------------------------------------------


def test_without_a_token_only_the_public_directory_answers(world2: dict[str, Any]) -> None:
    anonymous = Api(world2["client"])
    for rtype, method, path, body in every_interaction(world2):
        response = call(anonymous, method, path, body)
        if method == "GET" and rtype in PUBLIC_TYPES:
            assert response.status_code == 200, path
        else:
            assert response.status_code == 401, (method, path)
            assert response["WWW-Authenticate"].startswith("Bearer")
            assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Basic Zm9vOmJhcg==", "Bearer "])
def test_a_bad_token_answers_401_everywhere(world2: dict[str, Any], header: str) -> None:
    for _t, method, path, _body in every_interaction(world2):
        client: Client = world2["client"]
        if method == "GET":
            response = client.get(f"/fhir/R4/{path}", HTTP_AUTHORIZATION=header)
        else:
            response = client.generic(
                method, f"/fhir/R4/{path}", "{}", content_type="application/fhir+json", HTTP_AUTHORIZATION=header
            )
        assert response.status_code == 401, (method, path)


def test_anonymous_reads_are_rate_limited(world2: dict[str, Any], settings: Any) -> None:
    settings.CRENEAU_FHIR_ANON_RATE = (3, 60)
    anonymous = Api(world2["client"])
    statuses = [anonymous.get("Organization").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = anonymous.get("Organization")
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["issue"][0]["code"] == "throttled"
    assert api_for(world2).get("Organization").status_code == 200


# --- Grants ----------------------------------------------------------------------------------------------


def test_a_client_without_grant_cannot_get_scopes_and_sees_nothing(world2: dict[str, Any]) -> None:
    client: Client = world2["client"]
    client_id, secret = register_client("Sans accès")
    refused = token_response(client, client_id, secret, "system/Appointment.rs")
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"
    # Without any grant, a token carries no scope at all.
    empty = Api(client, token(client, client_id, secret))
    assert empty.get("Appointment").status_code == 403
    assert empty.get(f"Appointment/{world2['a'].appointment.pk}").status_code == 403
    assert empty.get(f"Organization/{world2['a'].org.pk}").status_code == 403


def test_a_token_cannot_ask_for_more_than_was_granted(world2: dict[str, Any]) -> None:
    client: Client = world2["client"]
    client_id, secret = register_client("Lecture seule")
    grant(client_id, world2["a"].org, "system/Slot.rs")
    assert token_response(client, client_id, secret, "system/Slot.rs").status_code == 200
    assert token_response(client, client_id, secret, "system/Appointment.rs").json()["error"] == "invalid_scope"


def test_patients_in_appointments_are_bare_references_without_the_patient_scope(world2: dict[str, Any]) -> None:
    a: Tenant = world2["a"]
    with_patients = api_for(world2).get(f"Appointment/{a.appointment.pk}").json()
    without = api_for(world2, "system/Appointment.rs").get(f"Appointment/{a.appointment.pk}").json()
    patient_with = next(p["actor"] for p in with_patients["participant"] if "Patient/" in p["actor"]["reference"])
    patient_without = next(p["actor"] for p in without["participant"] if "Patient/" in p["actor"]["reference"])
    assert patient_with["display"] == "Claire Martin"
    assert patient_without == {"reference": f"Patient/{a.patient.pk}"}


def test_an_admin_revokes_a_grant_in_the_web_ui_and_it_stops_working_at_once(world2: dict[str, Any]) -> None:
    a: Tenant = world2["a"]
    api = api_for(world2)
    assert api.get(f"Appointment/{a.appointment.pk}").status_code == 200
    admin = f.staff(a.org, Role.ORG_ADMIN)
    web = Client()
    assert admin.user is not None
    web.force_login(f.user_of(admin))
    page = web.get(f"/en/practice/api-access/{a.org.pk}/")
    assert page.status_code == 200
    assert world2["client_id"] in page.content.decode()
    active = ApiGrant.objects.active().get(organization=a.org)
    revoked = web.post(f"/en/practice/api-access/{a.org.pk}/revoke/{active.pk}/")
    assert revoked.status_code == 302
    # Same token, next request: nothing of A any more.
    assert api.get(f"Appointment/{a.appointment.pk}").status_code == 404
    assert api.get("Appointment").json()["total"] == 0
    assert api.get(f"Organization/{a.org.pk}").status_code == 404
    assert token_response(world2["client"], world2["client_id"], world2["secret"], "system/Slot.rs").status_code == 400


def test_an_admin_grants_access_in_the_web_ui(world2: dict[str, Any]) -> None:
    b: Tenant = world2["b"]
    admin = f.staff(b.org, Role.ORG_ADMIN)
    web = Client()
    assert admin.user is not None
    web.force_login(f.user_of(admin))
    response = web.post(
        f"/en/practice/api-access/{b.org.pk}/",
        {"client_id": world2["client_id"], "scopes": ["system/Appointment.cruds", "system/Slot.rs"]},
    )
    assert response.status_code == 302
    api = api_for(world2)
    assert api.get(f"Appointment/{b.appointment.pk}").status_code == 200
    assert api.get(f"Patient/{b.patient.pk}").status_code == 404  # B did not grant Patient.r


def test_only_the_organizations_admins_reach_its_grant_page(world2: dict[str, Any]) -> None:
    a: Tenant = world2["a"]
    b: Tenant = world2["b"]
    secretary = f.staff(a.org)
    other_admin = f.staff(b.org, Role.ORG_ADMIN)
    for actor in (secretary, other_admin):
        web = Client()
        assert actor.user is not None
        web.force_login(f.user_of(actor))
        assert web.get(f"/en/practice/api-access/{a.org.pk}/").status_code == 404
        grant_id = ApiGrant.objects.active().get(organization=a.org).pk
        assert web.post(f"/en/practice/api-access/{a.org.pk}/revoke/{grant_id}/").status_code == 404
    assert ApiGrant.objects.active().filter(organization=a.org).exists()
    anonymous = Client().get(f"/en/practice/api-access/{a.org.pk}/")
    assert anonymous.status_code == 302


def test_granting_asks_for_the_password_again_after_a_while_but_revoking_never(
    world2: dict[str, Any], settings: Any
) -> None:
    a: Tenant = world2["a"]
    b: Tenant = world2["b"]
    admin = f.staff(b.org, Role.ORG_ADMIN)
    web = Client()
    assert admin.user is not None
    web.force_login(f.user_of(admin))
    settings.CRENEAU_REAUTH_SECONDS = -1  # the sign-in is now "too old"
    response = web.post(
        f"/en/practice/api-access/{b.org.pk}/", {"client_id": world2["client_id"], "scopes": ["system/Slot.rs"]}
    )
    assert response.status_code == 302
    with translation.override("en"):
        assert response["Location"].startswith(reverse("accounts:reauth"))
    assert not ApiGrant.objects.active().filter(organization=b.org).exists()
    a_admin = f.staff(a.org, Role.ORG_ADMIN)
    assert a_admin.user is not None
    web.force_login(f.user_of(a_admin))
    settings.CRENEAU_REAUTH_SECONDS = -1
    grant_id = ApiGrant.objects.active().get(organization=a.org).pk
    assert web.post(f"/en/practice/api-access/{a.org.pk}/revoke/{grant_id}/").status_code == 302
    assert not ApiGrant.objects.active().filter(organization=a.org).exists()
