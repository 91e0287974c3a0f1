"""Writes to API grants and clients. An organization admin (or a command, as the system) grants a
client access to one organization with chosen scopes; revoking takes effect on the next request.
Every write records its audit row in its own transaction: who opened which organization to which
software, with what scopes, and who closed it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from jwcrypto import jwk
from jwcrypto.common import JWException
from oauth2_provider.models import get_application_model

from creneau.accounts.principals import acting_user
from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind
from creneau.core.errors import Conflict, InvalidInput, NotFound
from creneau.core.suspension import ensure_not_suspended
from creneau.directory.selectors import access_organization_as_admin

from . import jwks as jwks_remote
from . import scopes as smart
from .models import ApiClientKey, ApiGrant
from .selectors import access_api_client, access_api_grant

Application = get_application_model()


def _clean_scopes(scope_list: Iterable[str]) -> str:
    chosen = sorted({s.strip() for s in scope_list if s.strip()})
    if not chosen:
        raise InvalidInput(_("Choose at least one scope."))
    bad = [s for s in chosen if not smart.valid_scope(s)]
    if bad:
        raise InvalidInput(_("Unknown scope: %(scope)s") % {"scope": bad[0][:80]})
    return " ".join(chosen)


def _public_jwks(jwks: dict[str, Any]) -> dict[str, Any]:
    """A JWKS of public keys only (a private key sent to us would be a leak on the vendor's side)."""
    try:
        keys = jwk.JWKSet.from_json(json.dumps(jwks))
    except (JWException, ValueError, TypeError) as exc:
        raise InvalidInput(_("This is not a valid JSON Web Key Set.")) from exc
    if not list(keys) or any(k.has_private for k in keys):
        raise InvalidInput(_("Register one or more public keys, never a private key."))
    return jwks


def _jwks_uri(uri: str) -> str:
    uri = uri.strip()
    if len(uri) > 500 or not jwks_remote.allowed(uri):
        raise InvalidInput(_("This JWKS address is not on the list of allowed hosts (CRENEAU_JWKS_ALLOWED_HOSTS)."))
    return uri


@transaction.atomic
def api_client_create(
    *, actor: Actor, name: str, jwks: dict[str, Any] | None = None, jwks_uri: str = ""
) -> tuple[object, str]:
    """A confidential client-credentials client; returns it and its secret (shown once: only a hash
    is stored). With `jwks` or `jwks_uri`, the client authenticates with signed assertions only
    (private_key_jwt): it gets no secret (""). Platform setup: the system (a command) only."""
    if actor.kind != ActorKind.SYSTEM:
        raise NotFound(_("Unknown organization."))
    if not name.strip():
        raise InvalidInput(_("A client needs a name."))
    if jwks is not None and jwks_uri:
        raise InvalidInput(_("Register either a JWKS or its address, not both."))
    public = _public_jwks(jwks) if jwks is not None else None
    uri = _jwks_uri(jwks_uri) if jwks_uri else ""
    from oauth2_provider.generators import generate_client_secret

    # A key-registered client still needs a stored secret (the toolkit's model): a random one, never shown.
    secret = generate_client_secret()
    app = Application.objects.create(
        name=name.strip()[:255],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
        hash_client_secret=True,
    )
    if public is not None or uri:
        ApiClientKey.objects.create(application=app, jwks=public, jwks_uri=uri)
        secret = ""
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="api_client",
        object_id=app.client_id,
        via="api_client_create",
        changes={"name": [None, app.name], "private_key_jwt": [None, public is not None or bool(uri)]},
    )
    return app, secret


@transaction.atomic
def api_grant_create(
    *, actor: Actor, client_id: str, organization_id: uuid.UUID | str, scope_list: Iterable[str]
) -> ApiGrant:
    """Grant (or re-grant with new scopes) a client access to one organization."""
    ensure_not_suspended(actor)
    org = access_organization_as_admin(actor, organization_id)
    scope_text = _clean_scopes(scope_list)
    app = access_api_client(actor, client_id)
    now = clock.now()
    previous = list(
        ApiGrant.objects.select_for_update()
        .filter(application=app, organization_id=org.pk, revoked_at__isnull=True)
        .values_list("pk", "scopes")
    )
    ApiGrant.objects.filter(pk__in=[pk for pk, _s in previous]).update(
        revoked_at=now, revoked_by=actor.user, updated_at=now
    )
    try:
        with transaction.atomic():
            grant = ApiGrant.objects.create(
                application=app, organization_id=org.pk, scopes=scope_text, granted_by=acting_user(actor)
            )
    except IntegrityError as exc:
        raise Conflict(_("This client's access changed meanwhile; please reload.")) from exc
    audit_record(
        actor=actor,
        action=Action.GRANT,
        object_type="api_grant",
        object_id=grant.pk,
        via="api_grant_create",
        touched=[Touched(organization_id=org.pk)],
        changes={
            "client_id": app.client_id,
            "scopes": [previous[0][1] if previous else None, scope_text],
            "replaces": [str(pk) for pk, _s in previous],
        },
    )
    return grant


@transaction.atomic
def api_grant_revoke(*, actor: Actor, grant_id: uuid.UUID | str) -> ApiGrant:
    """Revoke at once: the next request of the client no longer sees this organization."""
    ensure_not_suspended(actor)
    grant = access_api_grant(actor, grant_id, for_update=True)
    if grant.revoked_at is None:
        now = clock.now()
        ApiGrant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=actor.user, updated_at=now
        )
        grant.refresh_from_db()
        audit_record(
            actor=actor,
            action=Action.REVOKE,
            object_type="api_grant",
            object_id=grant.pk,
            via="api_grant_revoke",
            touched=[Touched(organization_id=grant.organization_id)],
            changes={"client_id": grant.application.client_id, "scopes": [grant.scopes, None]},
        )
    return grant
