"""Writes to API grants and clients. An organization admin (or a command, as the system) grants a
client access to one organization with chosen scopes; revoking takes effect on the next request."""

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

from creneau.accounts.models import Membership, Role
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind
from creneau.core.errors import Conflict, InvalidInput, NotFound
from creneau.core.ids import parse_id
from creneau.directory.models import Organization

from . import scopes as smart
from .models import ApiClientKey, ApiGrant

Application = get_application_model()


def is_org_admin(actor: Actor, organization_id: uuid.UUID) -> bool:
    if actor.kind == ActorKind.SYSTEM:
        return True
    if actor.kind != ActorKind.STAFF or actor.user is None:
        return False
    return Membership.objects.filter(user=actor.user, organization_id=organization_id, role=Role.ORG_ADMIN).exists()


def _check_admin(actor: Actor, organization_id: uuid.UUID) -> None:
    # Not an admin of this organization: the same answer as an organization that does not exist.
    if not is_org_admin(actor, organization_id):
        raise NotFound(_("Unknown organization."))


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


def api_client_create(*, actor: Actor, name: str, jwks: dict[str, Any] | None = None) -> tuple[object, str]:
    """A confidential client-credentials client; returns it and its secret (shown once: only a hash
    is stored). With `jwks`, the client may also authenticate with signed assertions (private_key_jwt)."""
    if actor.kind != ActorKind.SYSTEM:
        raise NotFound(_("Unknown organization."))
    if not name.strip():
        raise InvalidInput(_("A client needs a name."))
    public = _public_jwks(jwks) if jwks is not None else None
    from oauth2_provider.generators import generate_client_secret

    secret = generate_client_secret()
    app = Application.objects.create(
        name=name.strip()[:255],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
        hash_client_secret=True,
    )
    if public is not None:
        ApiClientKey.objects.create(application=app, jwks=public)
    return app, secret


@transaction.atomic
def api_grant_create(
    *, actor: Actor, client_id: str, organization_id: uuid.UUID | str, scope_list: Iterable[str]
) -> ApiGrant:
    """Grant (or re-grant with new scopes) a client access to one organization."""
    org_id = parse_id(organization_id)
    _check_admin(actor, org_id)
    if not Organization.objects.filter(pk=org_id, is_active=True).exists():
        raise NotFound(_("Unknown organization."))
    scope_text = _clean_scopes(scope_list)
    app = Application.objects.filter(client_id=client_id.strip()).first()
    if app is None:
        raise InvalidInput(_("No API client has this client id."))
    now = clock.now()
    ApiGrant.objects.filter(application=app, organization_id=org_id, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=actor.user, updated_at=now
    )
    try:
        with transaction.atomic():
            return ApiGrant.objects.create(
                application=app, organization_id=org_id, scopes=scope_text, granted_by=actor.user
            )
    except IntegrityError as exc:
        raise Conflict(_("This client's access changed meanwhile; please reload.")) from exc


def api_grant_revoke(*, actor: Actor, grant_id: uuid.UUID | str) -> ApiGrant:
    """Revoke at once: the next request of the client no longer sees this organization."""
    try:
        grant = ApiGrant.objects.get(pk=parse_id(grant_id))
    except ApiGrant.DoesNotExist as exc:
        raise NotFound(_("Unknown access.")) from exc
    _check_admin(actor, grant.organization_id)
    if grant.revoked_at is None:
        now = clock.now()
        ApiGrant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=actor.user, updated_at=now
        )
        grant.refresh_from_db()
    return grant
