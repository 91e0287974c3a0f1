"""Every refusal of the FHIR API is a valid R4 OperationOutcome a partner's software can act on: a
machine-readable reason (`issue.details.coding`, our code system), text that never carries raw client
input, in the language the client asks for (French by default, English second); hostile input (NUL and
other control characters, a 10 MB body, deeply nested JSON) answers 400/413, never 500."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.test import Client
from fhir.resources.R4B.operationoutcome import OperationOutcome

from creneau.core.outcomes import REFUSAL_SYSTEM

from . import fhir_support as fs
from . import fhir_validator

pytestmark = pytest.mark.django_db
FHIR_STRING = re.compile(r"^[ \r\n\t\S]+$")  # R4 `string` (fhir.schema.json's pattern)


def valid_refusal(response: Any, status: int) -> dict[str, Any]:
    """The answer is a valid R4 OperationOutcome with our reason code; returns its (only) issue."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/fhir+json")
    body = json.loads(response.content)
    OperationOutcome.model_validate(body)
    if fhir_validator.available():  # the independent HL7 R4 schema too
        fhir_validator.assert_valid(body, response.request.get("PATH_INFO", ""))
    issue = body["issue"][0]
    assert FHIR_STRING.match(issue["diagnostics"]), issue["diagnostics"]
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", response.content.decode())
    codings = issue["details"]["coding"]
    assert codings[0]["system"] == REFUSAL_SYSTEM and re.match(r"^[a-z0-9-]+$", codings[0]["code"])
    return dict(issue)


def reason(response: Any, status: int) -> str:
    return str(valid_refusal(response, status)["details"]["coding"][0]["code"])


def test_every_kind_of_refusal_says_why_in_a_valid_outcome(client: Client, monday_morning: None, settings: Any) -> None:
    a = fs.tenant("Cabinet A")
    client_id, secret = fs.register_client()
    fs.grant(client_id, a.org)
    api = fs.Api(client, fs.token(client, client_id, secret))
    narrow = fs.Api(client, fs.token(client, client_id, secret, scope="system/Organization.rs"))
    anon = fs.Api(client)

    assert reason(anon.get("Appointment"), 401) == "authentication-required"
    assert reason(fs.Api(client, "not-a-token").get("Appointment"), 401) == "authentication-required"
    assert reason(narrow.get("Appointment"), 403) == "forbidden"
    assert reason(api.get(f"Appointment/{uuid.uuid4()}"), 404) == "not-found"
    assert reason(api.get("NoSuchType"), 404) == "not-found"
    assert reason(client.delete("/fhir/R4/metadata"), 405) == "method-not-allowed"
    assert reason(client.get("/fhir/R4/metadata", HTTP_ACCEPT="application/fhir+xml"), 406) == "not-acceptable"
    assert reason(client.post("/fhir/R4/Patient", "x", content_type="text/plain"), 415) == "unsupported-media-type"
    assert reason(api.get("Appointment", {"_count": "many"}), 400) == "invalid-request"
    taken = api.post("Appointment", fs.booking_body(a.slot_id(a.appointment.start_at), a.patient.pk))
    assert taken.status_code in (409, 422)
    assert reason(taken, taken.status_code) in ("conflict", "not-a-slot")  # the service's own code
    settings.CRENEAU_FHIR_ANON_RATE = (2, 60)
    fs.reset_rate_limits()
    answers = [anon.get("Organization") for _ in range(3)]
    assert reason(answers[-1], 429) == "rate-limited"


def test_errors_speak_the_language_asked_for(client: Client, db: None) -> None:
    path = f"/fhir/R4/Practitioner/{uuid.uuid4()}"
    default = client.get(path)
    french = client.get(path, HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    english = client.get(path, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.8")
    second = client.get(path, HTTP_ACCEPT_LANGUAGE="de-DE, en;q=0.5")
    unknown = client.get(path, HTTP_ACCEPT_LANGUAGE="de-DE")
    texts = {
        name: valid_refusal(r, 404)["diagnostics"]
        for name, r in {"default": default, "fr": french, "en": english, "second": second, "unknown": unknown}.items()
    }
    assert texts["default"] == texts["fr"] == texts["unknown"]
    assert texts["en"] == texts["second"] != texts["fr"]
    assert default["Content-Language"] == "fr" and english["Content-Language"] == "en"
    # The input limits answer in the negotiated language too (before any view runs).
    nul_fr = valid_refusal(client.get("/fhir/R4/Practitioner", {"name": "a\x00b"}), 400)["diagnostics"]
    nul_en = client.get("/fhir/R4/Practitioner", {"name": "a\x00b"}, HTTP_ACCEPT_LANGUAGE="en")
    assert valid_refusal(nul_en, 400)["diagnostics"] != nul_fr
    assert "control character" in valid_refusal(nul_en, 400)["diagnostics"]


PUBLIC_SEARCHES = [
    "Organization",
    "Location",
    "Practitioner",
    "PractitionerRole",
    "HealthcareService",
    "Schedule",
    "Slot",
]


@pytest.mark.parametrize("rtype", PUBLIC_SEARCHES)
def test_control_characters_anywhere_answer_400_or_404_never_500(client: Client, db: None, rtype: str) -> None:
    for params in ({"name": "\x00"}, {"_id": "a\x00"}, {"na\x01me": "x"}, {"\x1b[31m": "1"}, {"_count": "1\x7f"}):
        issue = valid_refusal(client.get(f"/fhir/R4/{rtype}", params), 400)
        assert "\x1b" not in issue["diagnostics"]
    # In the path: the id cannot exist.
    for bad in ("%00", "a%01b", "%1B%5B31m", "%C2%85"):
        response = client.get(f"/fhir/R4/{rtype}/{bad}")
        assert response.status_code in (400, 404)
        valid_refusal(response, response.status_code)


def test_client_sent_names_are_never_echoed_raw(client: Client, monday_morning: None) -> None:
    a = fs.tenant("Cabinet A")
    client_id, secret = fs.register_client()
    fs.grant(client_id, a.org)
    api = fs.Api(client, fs.token(client, client_id, secret))
    weird = "x\u2028y\u202e\u00a0z" + "w" * 3000
    response = client.get("/fhir/R4/Practitioner", {weird: "1"}, HTTP_PREFER="handling=strict")
    issue = valid_refusal(response, 400)
    assert "\u2028" not in issue["diagnostics"] and "\u202e" not in issue["diagnostics"]
    assert len(issue["diagnostics"]) <= 1000
    body = {"resourceType": "Appointment", "status": "booked", "participant": [{"bad\u2029key": 1}]}
    response = api.post("Appointment", body)
    assert response.status_code in (400, 422)
    valid_refusal(response, response.status_code)


def test_a_ten_megabyte_body_is_a_413_and_deep_json_a_400(client: Client, monday_morning: None) -> None:
    a = fs.tenant("Cabinet A")
    client_id, secret = fs.register_client()
    fs.grant(client_id, a.org)
    api = fs.Api(client, fs.token(client, client_id, secret))
    big = json.dumps({"resourceType": "Patient", "text": {"div": "x" * (10 * 1024 * 1024)}})
    assert reason(api.post("Patient", big), 413) == "request-too-large"
    deep = '{"resourceType": "Patient", "extension": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert reason(api.post("Patient", deep), 400) == "invalid-input"
    nested = {"resourceType": "Patient"}
    node: dict[str, Any] = nested
    for _ in range(60):
        node["contained"] = {"resourceType": "Patient"}
        node = node["contained"]
    valid_refusal(api.post("Patient", nested), 400)
