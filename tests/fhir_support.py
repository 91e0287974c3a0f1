"""Builders for the FHIR API tests: a partner client with a real OAuth2 token, granted for one
organization (A) while another organization (B) holds data it must never reach."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from typing import Any

from django.core.cache import cache
from django.test import Client

from creneau.booking.models import Appointment
from creneau.booking.services import SlotRef, appointment_book
from creneau.core.actors import Actor
from creneau.directory.models import Organization, Practitioner, Site
from creneau.fhir.ids import pair_id, slot_id
from creneau.fhir.models import ApiGrant
from creneau.fhir.services import api_client_create, api_grant_create
from creneau.patients.models import Patient
from creneau.patients.services import patient_create_for_organization
from creneau.scheduling.models import Motif
from creneau.scheduling.services import availability_refresh

from . import factories as f
from .fhir_validator.client import check_response

FHIR = "application/fhir+json"
ALL_SCOPES = "system/*.cruds"


@dataclasses.dataclass
class Tenant:
    org: Organization
    site: Site
    doc: Practitioner
    motif: Motif
    patient: Patient
    appointment: Appointment
    staff: Actor

    def slot_id(self, start: dt.datetime) -> str:
        return slot_id(self.motif.pk, self.site.pk, start)

    @property
    def role_id(self) -> str:
        return pair_id(self.doc.pk, self.site.pk)


def tenant(name: str, *, city: str = "Lyon") -> Tenant:
    """An organization with a practitioner open 09:00–12:00 every day, a 30-minute motif, a patient it
    created and one booked appointment (the next day at 09:00, Paris)."""
    org = f.organization(name)
    site = f.site(org, city=city)
    doc = f.practitioner(site)
    f.every_day(doc, site)
    motif = f.motif(doc, minutes=30)
    staff = f.staff(org)
    patient = patient_create_for_organization(
        actor=staff,
        organization_id=org.pk,
        family_name="Martin",
        given_name="Claire",
        birth_date=dt.date(1980, 5, 17),
        phone="+33639980011",
    )
    from creneau.core import clock

    tomorrow = clock.now().astimezone(f.PARIS).date() + dt.timedelta(days=1)
    start = f.paris(tomorrow.year, tomorrow.month, tomorrow.day, 9, 0)
    appointment = appointment_book(actor=staff, slot=SlotRef(doc.pk, motif.pk, site.pk, start), patient_id=patient.pk)
    availability_refresh(practitioner_ids=[doc.pk])
    return Tenant(org, site, doc, motif, patient, appointment, staff)


def register_client(name: str = "Logiciel Partenaire") -> tuple[str, str]:
    app, secret = api_client_create(actor=Actor.system(), name=name)
    return app.client_id, secret  # type: ignore[attr-defined]


def grant(client_id: str, org: Organization, scopes: str = ALL_SCOPES) -> ApiGrant:
    return api_grant_create(
        actor=Actor.system(), client_id=client_id, organization_id=org.pk, scope_list=scopes.split()
    )


def token_response(client: Client, client_id: str, secret: str, scope: str | None = None) -> Any:
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post("/fhir/R4/auth/token", data, HTTP_AUTHORIZATION=f"Basic {basic}")


def token(client: Client, client_id: str, secret: str, scope: str | None = None) -> str:
    response = token_response(client, client_id, secret, scope)
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


class Api:
    """A thin FHIR caller over Django's test client, with or without a bearer token."""

    def __init__(self, client: Client, access_token: str | None = None) -> None:
        self.client = client
        self.token = access_token

    def _headers(self) -> dict[str, Any]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}

    # Every answer is checked against the independent R4 schema (tests/fhir_validator), whichever
    # Django client this caller was given.
    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self.client.get(f"/fhir/R4/{path}", params or {}, HTTP_ACCEPT=FHIR, **self._headers())
        return check_response(response, "GET", f"/fhir/R4/{path}")

    def post(self, path: str, body: Any, **headers: Any) -> Any:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        response = self.client.post(f"/fhir/R4/{path}", data, content_type=FHIR, **self._headers(), **headers)
        return check_response(response, "POST", f"/fhir/R4/{path}")

    def put(self, path: str, body: Any) -> Any:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        response = self.client.put(f"/fhir/R4/{path}", data, content_type=FHIR, **self._headers())
        return check_response(response, "PUT", f"/fhir/R4/{path}")

    def delete(self, path: str) -> Any:
        response = self.client.delete(f"/fhir/R4/{path}", **self._headers())
        return check_response(response, "DELETE", f"/fhir/R4/{path}")


def booking_body(slot: str, patient_id: object) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{"reference": f"Slot/{slot}"}],
        "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
    }


def reset_rate_limits() -> None:
    cache.clear()
