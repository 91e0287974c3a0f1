"""Who is acting. Every service takes an `actor`; the scoping and (later) the audit trail read it."""

from __future__ import annotations

import dataclasses
import enum
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from creneau.accounts.models import User


class ActorKind(enum.StrEnum):
    PATIENT = "patient"
    STAFF = "staff"
    API_CLIENT = "api_client"
    # A platform operator in the Django admin: sees across organizations, audited and watched.
    OPERATOR = "operator"
    SYSTEM = "system"


class Channel(enum.StrEnum):
    WEB = "web"
    PHONE = "phone"
    API = "api"
    ADMIN = "admin"
    COMMAND = "command"


@dataclasses.dataclass(frozen=True)
class Actor:
    """An authenticated principal and the context of its request."""

    kind: ActorKind
    channel: Channel
    user: User | None = None
    api_client_id: str | None = None
    # Organizations this actor may act for (staff memberships, API grants). Empty for patients.
    organization_ids: frozenset[uuid.UUID] = frozenset()
    ip: str | None = None
    # Staff roles ("secretary", "org_admin,practitioner"...), recorded in the audit trail.
    role: str = ""

    @property
    def key(self) -> str:
        """Stable, non-personal identifier of the principal (scopes idempotency keys, rate limits)."""
        if self.user is not None:
            return f"user:{self.user.pk}"
        if self.api_client_id:
            return f"client:{self.api_client_id}"
        return f"{self.kind}:anonymous"

    @classmethod
    def system(cls, channel: Channel = Channel.COMMAND) -> Actor:
        return cls(kind=ActorKind.SYSTEM, channel=channel)

    @classmethod
    def for_operator(cls, user: User, *, ip: str | None = None) -> Actor:
        return cls(kind=ActorKind.OPERATOR, channel=Channel.ADMIN, user=user, ip=ip, role="operator")

    @classmethod
    def for_patient(cls, user: User, *, channel: Channel = Channel.WEB, ip: str | None = None) -> Actor:
        return cls(kind=ActorKind.PATIENT, channel=channel, user=user, ip=ip)

    @classmethod
    def for_staff(cls, user: User, *, channel: Channel = Channel.WEB, ip: str | None = None) -> Actor:
        from creneau.accounts.models import Membership

        rows = list(Membership.objects.filter(user=user).values_list("organization_id", "role"))
        org_ids = frozenset(org for org, _role in rows)
        role = ",".join(sorted({r for _org, r in rows}))
        return cls(kind=ActorKind.STAFF, channel=channel, user=user, organization_ids=org_ids, ip=ip, role=role)

    def can_act_for_organization(self, organization_id: uuid.UUID) -> bool:
        return self.kind == ActorKind.SYSTEM or organization_id in self.organization_ids
