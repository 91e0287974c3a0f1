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


def assertion(key: jwk.JWK, client_id: str, *, with_kid: bool = True, **overrides: Any) -> str:
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": int(time.time()) + 240,
        "jti": str(uuid.uuid4()),
        **overrides,
    }
    header = {"alg": "RS384", "kid": key.get("kid")} if with_kid else {"alg": "RS384"}
    token = jwt.JWT(header=header, claims=claims, expected_type="JWS")
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
        {"exp": -600},  # relative to now: expired long ago
        {"exp": -30},  # expired thirty seconds ago (the leeway is a few seconds only)
        {"nbf": 60},  # relative to now: not valid for another minute
        {"exp": 3600},  # relative to now: lives longer than five minutes
        {"sub": "someone-else"},
    ],
)
def test_misdirected_expired_or_long_lived_assertions_are_refused(
    registered: dict[str, Any], client: Client, overrides: dict[str, Any]
) -> None:
    overrides = {k: int(time.time()) + v if k in ("exp", "nbf") else v for k, v in overrides.items()}
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


def test_an_assertion_that_does_not_name_its_key_is_refused(registered: dict[str, Any], client: Client) -> None:
    response = ask(client, assertion(registered["key"], registered["client_id"], with_kid=False))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_an_assertion_valid_from_now_is_accepted(registered: dict[str, Any], client: Client) -> None:
    now = int(time.time())
    assert ask(client, assertion(registered["key"], registered["client_id"], nbf=now, iat=now)).status_code == 200


def test_a_key_registered_client_has_no_working_secret(db: None, client: Client) -> None:
    import base64

    from creneau.fhir.models import ApiClientKey

    reset_rate_limits()
    _key, public = keypair()
    _app, secret = api_client_create(actor=Actor.system(), name="Clé seule", jwks=public)
    assert secret == ""
    # A client that had a secret before its keys were registered: the secret stops working.
    from .fhir_support import register_client

    client_id, old_secret = register_client("Logiciel passé aux clés")
    grant(client_id, f.organization())
    basic = base64.b64encode(f"{client_id}:{old_secret}".encode()).decode()
    data = {"grant_type": "client_credentials"}
    assert client.post("/fhir/R4/auth/token", data, HTTP_AUTHORIZATION=f"Basic {basic}").status_code == 200
    from oauth2_provider.models import get_application_model

    ApiClientKey.objects.create(application=get_application_model().objects.get(client_id=client_id), jwks=public)
    refused = client.post("/fhir/R4/auth/token", data, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    posted = client.post("/fhir/R4/auth/token", {**data, "client_id": client_id, "client_secret": old_secret})
    assert posted.status_code == 401


def test_the_bearer_scheme_is_case_insensitive(registered: dict[str, Any], client: Client) -> None:
    access = ask(client, assertion(registered["key"], registered["client_id"])).json()["access_token"]
    path = f"/fhir/R4/Organization/{registered['org'].pk}"
    for scheme in ("bearer", "BEARER", "Bearer"):
        assert client.get(path, HTTP_AUTHORIZATION=f"{scheme} {access}").status_code == 200
    assert client.get(path, HTTP_AUTHORIZATION=f"Basic {access}").status_code == 401
    assert client.get(path, HTTP_AUTHORIZATION="bearer ").status_code == 401


def test_discovery_lists_permission_v2(client: Client) -> None:
    config = client.get("/fhir/R4/.well-known/smart-configuration").json()
    assert "permission-v2" in config["capabilities"]


class _JwksServer:
    """A local HTTP server publishing a JWKS (no internet), counting how often it is fetched."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        import http.server
        import threading

        self.jwks = jwks
        self.hits = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                body = json.dumps(outer.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks_server(settings: Any) -> Any:
    key, public = keypair("remote-1")
    server = _JwksServer(public)
    settings.CRENEAU_JWKS_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.CRENEAU_JWKS_ALLOW_HTTP = True
    yield server, key
    server.close()


def test_keys_fetched_from_an_allow_listed_jwks_uri_are_cached_and_rotated(
    db: None, client: Client, jwks_server: Any
) -> None:
    server, key = jwks_server
    reset_rate_limits()
    app, secret = api_client_create(actor=Actor.system(), name="Clés publiées", jwks_uri=server.url)
    assert secret == ""
    client_id = app.client_id  # type: ignore[attr-defined]
    grant(client_id, f.organization())
    assert ask(client, assertion(key, client_id)).status_code == 200
    assert ask(client, assertion(key, client_id)).status_code == 200
    assert server.hits == 1  # the second assertion used the cached key set
    # The client rotates its keys: an assertion naming the new key makes us fetch again.
    new_key, new_public = keypair("remote-2")
    server.jwks = new_public
    assert ask(client, assertion(new_key, client_id)).status_code == 200
    assert server.hits == 2
    # A key the client never published is still refused (and no new fetch within the minute).
    stranger, _public = keypair("remote-3")
    assert ask(client, assertion(stranger, client_id)).status_code == 401
    assert server.hits == 2


def test_a_jwks_uri_off_the_allow_list_is_refused_and_never_fetched(
    db: None, client: Client, jwks_server: Any, settings: Any
) -> None:
    server, key = jwks_server
    reset_rate_limits()
    with pytest.raises(InvalidInput):
        api_client_create(actor=Actor.system(), name="Ailleurs", jwks_uri=server.url.replace("127.0.0.1", "localhost"))
    settings.CRENEAU_JWKS_ALLOW_HTTP = False
    with pytest.raises(InvalidInput):  # https only in production
        api_client_create(actor=Actor.system(), name="En clair", jwks_uri=server.url)
    settings.CRENEAU_JWKS_ALLOW_HTTP = True
    app, _secret = api_client_create(actor=Actor.system(), name="Retiré", jwks_uri=server.url)
    client_id = app.client_id  # type: ignore[attr-defined]
    grant(client_id, f.organization())
    settings.CRENEAU_JWKS_ALLOWED_HOSTS = []  # the operator removed the host since
    assert ask(client, assertion(key, client_id)).status_code == 401
    assert server.hits == 0
