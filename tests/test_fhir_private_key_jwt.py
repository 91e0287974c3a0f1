"""private_key_jwt (SMART Backend Services): a client registered with its public keys gets a token by
signing an assertion with its private key; forged, replayed, expired or misdirected assertions get none."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from django.test import Client
from jwcrypto import jwk, jwt

from creneau.core.actors import Actor
from creneau.core.errors import InvalidInput
from creneau.fhir.oauth import JWT_BEARER
from creneau.fhir.services import api_client_create

from . import factories as f
from .fhir_support import Api, grant, reset_rate_limits

TOKEN_URL = "http://testserver/fhir/R4/auth/token"


def keypair(kid: str = "k1") -> tuple[jwk.JWK, dict[str, Any]]:
    key = jwk.JWK.generate(kty="RSA", size=2048, kid=kid)
    return key, {"keys": [json.loads(key.export_public())]}


def assertion(key: jwk.JWK, client_id: str, **overrides: Any) -> str:
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": int(time.time()) + 240,
        "jti": str(uuid.uuid4()),
        **overrides,
    }
    token = jwt.JWT(header={"alg": "RS384", "kid": key.key_id}, claims=claims, expected_type="JWS")
    token.make_signed_token(key)
    return str(token.serialize())


def ask(client: Client, signed: str) -> Any:
    return client.post(
        "/fhir/R4/auth/token",
        {
            "grant_type": "client_credentials",
            "scope": "system/Organization.rs",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": signed,
        },
    )


@pytest.fixture
def registered(db: None) -> dict[str, Any]:
    reset_rate_limits()
    key, public = keypair()
    app, _secret = api_client_create(actor=Actor.system(), name="Logiciel Asymétrique", jwks=public)
    org = f.organization()
    grant(app.client_id, org)  # type: ignore[attr-defined]
    return {"key": key, "client_id": app.client_id, "org": org}  # type: ignore[attr-defined]


def test_a_signed_assertion_gets_a_token_that_works(registered: dict[str, Any], client: Client) -> None:
    response = ask(client, assertion(registered["key"], registered["client_id"]))
    assert response.status_code == 200, response.content
    api = Api(client, response.json()["access_token"])
    assert api.get(f"Organization/{registered['org'].pk}").status_code == 200


def test_a_replayed_assertion_is_refused(registered: dict[str, Any], client: Client) -> None:
    signed = assertion(registered["key"], registered["client_id"])
    assert ask(client, signed).status_code == 200
    assert ask(client, signed).status_code == 401


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "https://elsewhere.example/token"},
        {"exp": -600},  # relative to now: expired (beyond the verifier's one-minute leeway)
        {"exp": 3600},  # relative to now: lives longer than five minutes
        {"sub": "someone-else"},
    ],
)
def test_misdirected_expired_or_long_lived_assertions_are_refused(
    registered: dict[str, Any], client: Client, overrides: dict[str, Any]
) -> None:
    if "exp" in overrides:
        overrides = {"exp": int(time.time()) + overrides["exp"]}
    assert ask(client, assertion(registered["key"], registered["client_id"], **overrides)).status_code == 401


def test_an_assertion_signed_with_another_key_is_refused(registered: dict[str, Any], client: Client) -> None:
    other, _public = keypair("k1")
    assert ask(client, assertion(other, registered["client_id"])).status_code == 401
    assert ask(client, "not.a.jwt").status_code == 401


def test_private_keys_are_never_accepted_at_registration(db: None) -> None:
    key, _public = keypair()
    with pytest.raises(InvalidInput):
        api_client_create(actor=Actor.system(), name="Erreur", jwks={"keys": [json.loads(key.export_private())]})
    with pytest.raises(InvalidInput):
        api_client_create(actor=Actor.system(), name="Erreur", jwks={"keys": []})


def test_discovery_advertises_private_key_jwt(client: Client) -> None:
    config = client.get("/fhir/R4/.well-known/smart-configuration").json()
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]
    assert "RS384" in config["token_endpoint_auth_signing_alg_values_supported"]


def test_the_command_registers_a_client_with_its_public_keys(db: None, client: Client, tmp_path: Any) -> None:
    import io

    from django.core.management import call_command

    key, public = keypair()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(public))
    out = io.StringIO()
    call_command("create_api_client", "Agenda Clé", "--json", "--jwks-file", str(path), stdout=out)
    client_id = json.loads(out.getvalue())["client_id"]
    grant(client_id, f.organization())
    assert ask(client, assertion(key, client_id)).status_code == 200
