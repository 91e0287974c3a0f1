"""Who is acting. Every service takes an `actor`; the scoping and (later) the audit trail read it."""

from __future__ import annotations

import dataclasses
import enum
import uuid
from typing import Any, Literal, Protocol


class Principal(Protocol):
    """A signed-in person as core sees one (core imports no app): a primary key, signed in (an anonymous
    visitor is not one), and whether the platform runs them. accounts' `User` is one;
    `accounts.principals.acting_user` gives the model back to the apps above accounts."""

    @property
    def pk(self) -> Any: ...

    @property
    def is_authenticated(self) -> Literal[True]: ...

    @property
    def is_staff(self) -> bool: ...


class ActorKind(enum.StrEnum):
    PATIENT = "patient"
    STAFF = "staff"
    API_CLIENT = "api_client"
    # A platform operator in the Django admin: sees across organizations, audited and watched.
    OPERATOR = "operator"
    SYSTEM = "system"


class AgendaRight(enum.StrEnum):
    """What a staff member may do on one agenda (a practitioner's calendar within one organization)."""

    VIEW = "view"  # see the agenda, its appointments and their patients
    BOOK = "book"  # book, move, cancel, mark arrived or no-show
    MANAGE = "manage"  # visit reasons, opening hours, absences
    FORCE = "force"  # book on top of another appointment or outside opening hours (urgent cases)


ALL_AGENDA_RIGHTS = frozenset(AgendaRight)


@dataclasses.dataclass(frozen=True, slots=True)
class AgendaScope:
    """One agenda an actor holds rights on."""

    agenda_id: uuid.UUID
    organization_id: uuid.UUID
    practitioner_id: uuid.UUID
    rights: frozenset[AgendaRight]


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
    user: Principal | None = None
    api_client_id: str | None = None
    # Organizations this actor may act for (staff memberships, API grants). Empty for patients.
    organization_ids: frozenset[uuid.UUID] = frozenset()
    ip: str | None = None
    # Staff roles ("secretary", "org_admin,practitioner"...), recorded in the audit trail.
    role: str = ""
    # Staff only: roles per organization, the organizations the actor administers, and per-agenda rights
    # (built by `accounts.selectors.staff_actor`; a practitioner holds every right on their own agenda).
    org_roles: tuple[tuple[uuid.UUID, str], ...] = ()
    admin_of: frozenset[uuid.UUID] = frozenset()
    agendas: tuple[AgendaScope, ...] = ()

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
    def for_operator(cls, user: Principal, *, ip: str | None = None) -> Actor:
        return cls(kind=ActorKind.OPERATOR, channel=Channel.ADMIN, user=user, ip=ip, role="operator")

    @classmethod
    def for_patient(cls, user: Principal, *, channel: Channel = Channel.WEB, ip: str | None = None) -> Actor:
        return cls(kind=ActorKind.PATIENT, channel=channel, user=user, ip=ip)

    def can_act_for_organization(self, organization_id: uuid.UUID) -> bool:
        return self.kind == ActorKind.SYSTEM or organization_id in self.organization_ids

    def is_org_admin(self, organization_id: uuid.UUID) -> bool:
        return self.kind == ActorKind.STAFF and organization_id in self.admin_of

    def agenda_rights(self, *, organization_id: uuid.UUID, practitioner_id: uuid.UUID) -> frozenset[AgendaRight]:
        """The rights on the agenda of this practitioner in this organization. API clients act for whole
        organizations (their grants and scopes bound them); the system for everything."""
        if self.kind == ActorKind.SYSTEM:
            return ALL_AGENDA_RIGHTS
        if self.kind == ActorKind.API_CLIENT:
            return ALL_AGENDA_RIGHTS if organization_id in self.organization_ids else frozenset()
        for scope in self.agendas:
            if scope.organization_id == organization_id and scope.practitioner_id == practitioner_id:
                return scope.rights
        return frozenset()

    def can_on_agenda(self, right: AgendaRight, *, organization_id: uuid.UUID, practitioner_id: uuid.UUID) -> bool:
        return right in self.agenda_rights(organization_id=organization_id, practitioner_id=practitioner_id)

    def agendas_with(self, right: AgendaRight) -> list[AgendaScope]:
        return [a for a in self.agendas if right in a.rights]
