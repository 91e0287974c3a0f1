"""Team management by an organization's admins: invitations, roles, per-agenda rights, removal.

Each service takes the acting `actor` first, runs in one transaction and writes its audit row in it
(who, which member, which agenda, from what to what), so a refused or failed change leaves nothing
behind. People are told through domain events (`accounts.events`): the notifications app queues the
e-mails in the same transaction. Objects are reached only through `accounts.selectors`, so another
organization's member, invitation or agenda answers exactly like one that does not exist."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record, changes_between
from creneau.core import clock, events
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.core.crypto.blind import blind_index
from creneau.core.errors import Conflict, InvalidInput, PermissionDenied, PolicyViolation
from creneau.core.ids import parse_id
from creneau.directory.models import Agenda, Organization
from creneau.directory.selectors import access_organization_as_admin

from . import events as names
from .models import AgendaAccess, Invitation, Membership, Role, User
from .principals import acting_user
from .selectors import (
    access_invitation,
    access_membership,
    invitation_for_token,
    invitation_token,
    invitation_token_hash,
)

DEFAULT_INVITATION_DAYS = 7


@dataclasses.dataclass(frozen=True, slots=True)
class AgendaRights:
    """What a member may do on one agenda. Booking or managing implies seeing: without `view` the
    other two are dropped, as the database constraint on `AgendaAccess` requires."""

    view: bool = False
    book: bool = False
    manage: bool = False
    force: bool = False  # forcing is booking: only with `book`

    def normalized(self) -> AgendaRights:
        if not self.view:
            return AgendaRights()
        return self if self.book or not self.force else dataclasses.replace(self, force=False)

    @property
    def none(self) -> bool:
        return not self.view

    def as_dict(self) -> dict[str, bool]:
        return {"view": self.view, "book": self.book, "manage": self.manage, "force": self.force}

    @classmethod
    def of(cls, access: AgendaAccess | None) -> AgendaRights:
        if access is None:
            return cls()
        return cls(access.can_view, access.can_book, access.can_manage, access.can_force).normalized()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgendaRights:
        return cls(
            bool(data.get("view")), bool(data.get("book")), bool(data.get("manage")), bool(data.get("force"))
        ).normalized()


# --- checks shared by the services ------------------------------------------------------------------------


def _clean_email(value: str) -> str:
    email = (value or "").strip().lower()
    try:
        validate_email(email)
        if len(email) > 254 or len(email.partition("@")[0]) > 64:  # RFC 5321 limits
            raise ValidationError("too long")
    except ValidationError as exc:
        raise InvalidInput(_("Enter a valid e-mail address, such as name@example.fr."), code="email") from exc
    return email


def _clean_role(value: str) -> Role:
    if value not in Role.values:
        raise InvalidInput(_("Choose a role: practitioner, secretary or organization admin."), code="role")
    return Role(value)


def _org_agendas(organization: Organization) -> dict[uuid.UUID, Agenda]:
    return {
        a.pk: a for a in Agenda.objects.filter(organization=organization, is_active=True).select_related("practitioner")
    }


def _checked_rights(organization: Organization, rights: Mapping[Any, AgendaRights]) -> dict[uuid.UUID, AgendaRights]:
    """The rights keyed by agenda id, every agenda one of the organization's. Another organization's
    agenda is refused with the same words as an id that does not exist."""
    agendas = _org_agendas(organization)
    out: dict[uuid.UUID, AgendaRights] = {}
    for raw_id, wanted in rights.items():
        try:
            agenda_id = parse_id(raw_id)
        except Exception as exc:
            raise InvalidInput(
                _("Unknown agenda: rights can only be given on your organization's agendas."), code="agenda"
            ) from exc
        if agenda_id not in agendas:
            raise InvalidInput(
                _("Unknown agenda: rights can only be given on your organization's agendas."), code="agenda"
            )
        out[agenda_id] = wanted.normalized()
    return out


def _checked_practitioner(organization: Organization, role: Role, practitioner_id: Any) -> uuid.UUID | None:
    """For the practitioner role: the practitioner profile, one with an agenda in this organization
    and not already the profile of another member. Other roles have no profile."""
    if role != Role.PRACTITIONER:
        return None
    if not practitioner_id:
        raise InvalidInput(_("Choose which practitioner of your organization this person is."), code="practitioner")
    try:
        pid = parse_id(practitioner_id)
    except Exception as exc:
        raise InvalidInput(_("Unknown practitioner: choose one of your organization's."), code="practitioner") from exc
    if not Agenda.objects.filter(organization=organization, practitioner_id=pid, is_active=True).exists():
        raise InvalidInput(_("Unknown practitioner: choose one of your organization's."), code="practitioner")
    return pid


def _practitioner_taken(organization_id: uuid.UUID, practitioner_id: uuid.UUID | None, *, except_user: Any) -> bool:
    if practitioner_id is None:
        return False
    return (
        Membership.objects.filter(
            organization_id=organization_id, role=Role.PRACTITIONER, practitioner_id=practitioner_id
        )
        .exclude(user_id=except_user)
        .exists()
    )


def _practitioner_taken_error() -> Conflict:
    return Conflict(_("This practitioner already has an account in your organization."), code="practitioner-taken")


def _is_member(user: User | None, organization_id: uuid.UUID) -> bool:
    return user is not None and Membership.objects.filter(user=user, organization_id=organization_id).exists()


def _already_member() -> Conflict:
    return Conflict(_("This person is already a member of your team."), code="already-member")


def _lock_admins(organization_id: uuid.UUID) -> int:
    """How many admins the organization has, its admin rows locked until the transaction ends, so two
    admins removing each other at once cannot leave it with none."""
    return len(
        list(
            Membership.objects.select_for_update()
            .filter(organization_id=organization_id, role=Role.ORG_ADMIN)
            .values_list("pk", flat=True)
        )
    )


def _last_admin_error() -> PolicyViolation:
    return PolicyViolation(
        _("An organization needs at least one administrator: make someone else administrator first."),
        code="last-admin",
    )


# --- invitations -------------------------------------------------------------------------------------


@transaction.atomic
def invitation_create(
    *,
    actor: Actor,
    organization_id: uuid.UUID | str,
    email: str,
    role: str,
    practitioner_id: uuid.UUID | str | None = None,
    rights: Mapping[Any, AgendaRights] | None = None,
    language: str = "fr",
) -> Invitation:
    """An admin of the organization invites an e-mail address to its team with a role and rights per
    agenda. The link goes out by e-mail, its token made only as the message leaves (never stored, not
    even in the outbox: `accounts.selectors.invitation_token`); it works once, until
    `CRENEAU_INVITATION_DAYS` days from now, unless withdrawn. Refused: a malformed address, someone
    already in the team or already invited, an agenda of another organization, the practitioner role
    without one of the organization's practitioners (or with one who already has an account there)."""
    organization = access_organization_as_admin(actor, organization_id)
    address = _clean_email(email)
    clean_role = _clean_role(role)
    profile = _checked_practitioner(organization, clean_role, practitioner_id)
    checked = _checked_rights(organization, rights or {})
    existing = User.objects.by_email(address).first()
    if _is_member(existing, organization.pk):
        raise _already_member()
    if _practitioner_taken(organization.pk, profile, except_user=None):
        raise _practitioner_taken_error()
    now = clock.now()
    if Invitation.objects.filter(
        organization=organization,
        email_bidx=blind_index("email", address),
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
    ).exists():
        raise Conflict(
            _("An invitation to this address is already waiting. Withdraw it first to send a new one."),
            code="already-invited",
        )
    days = getattr(settings, "CRENEAU_INVITATION_DAYS", DEFAULT_INVITATION_DAYS)
    invitation_id = uuid.uuid4()
    invitation = Invitation.objects.create(
        pk=invitation_id,
        organization=organization,
        email=address,
        role=clean_role,
        practitioner_id=profile,
        rights={str(k): v.as_dict() for k, v in checked.items() if not v.none},
        language=language if language in ("fr", "en") else "fr",
        token_hash=invitation_token_hash(invitation_token(invitation_id)),
        invited_by=acting_user(actor),
        expires_at=now + dt.timedelta(days=days),
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="invitation",
        object_id=invitation.pk,
        changes={
            "organization": str(organization.pk),
            "role": [None, str(clean_role)],
            "practitioner": [None, str(profile) if profile else None],
            "rights": [None, invitation.rights],
            "expires_at": invitation.expires_at,
        },
        touched=[Touched(organization_id=organization.pk)],
        via="invitation_create",
    )
    events.emit(names.INVITATION_CREATED, invitation_id=invitation.pk)  # the link's token is made when sent
    return invitation


@transaction.atomic
def invitation_revoke(*, actor: Actor, invitation_id: uuid.UUID | str) -> Invitation:
    """Withdraw an invitation of an organization the actor administers: its link stops working at
    once. One already accepted or withdrawn is refused (remove the member instead)."""
    invitation = access_invitation(actor, invitation_id)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise Conflict(_("This invitation was already accepted: remove the member instead."), code="accepted")
    if invitation.revoked_at is not None:
        raise Conflict(_("This invitation was already withdrawn."), code="revoked")
    invitation.revoked_at = clock.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    audit_record(
        actor=actor,
        action=Action.REVOKE,
        object_type="invitation",
        object_id=invitation.pk,
        changes={"organization": str(invitation.organization_id), "state": ["pending", "revoked"]},
        touched=[Touched(organization_id=invitation.organization_id)],
        via="invitation_revoke",
    )
    return invitation


def visitor(*, ip: str | None = None) -> Actor:
    """Someone not signed in, opening an invitation link (the only anonymous caller of these services)."""
    return Actor(kind=ActorKind.PATIENT, channel=Channel.WEB, ip=ip)


def invitation_account_exists(invitation: Invitation) -> bool:
    """Whether the invited address already has an account (then the person signs in to accept)."""
    return User.objects.by_email(invitation.email).exists()


@transaction.atomic
def invitation_accept(*, actor: Actor, token: str, password: str | None = None) -> Membership:
    """Join the team the link invites to. Without an account for the address, `actor` is anonymous and
    `password` creates one (active: the link proved the address). With one, `actor` must be signed in
    as that account. Either way the membership and its agenda rights are created from the invitation,
    which is then used up. Staff must then enrol a second factor: the session middleware sends every
    member without one to the TOTP setup before any other page."""
    invitation = invitation_for_token(token, for_update=True)
    existing = User.objects.by_email(invitation.email).first()
    if actor.user is None:
        if existing is not None:
            raise PermissionDenied(
                _("An account already exists for this address: sign in to accept the invitation."), code="sign-in"
            )
        if not password:
            raise InvalidInput(_("Choose a password for your new account."), code="password")
        try:
            password_validation.validate_password(password, User(email=invitation.email))
        except ValidationError as exc:
            raise InvalidInput(" ".join(exc.messages), code="password") from exc
        user = User.objects.create_user(invitation.email, password, language=invitation.language)
        created = True
    else:
        if existing is None or existing.pk != actor.user.pk:
            raise PermissionDenied(
                _("This invitation was sent to another e-mail address. Sign out, then open the link again."),
                code="other-account",
            )
        user = existing
        created = False
    if _is_member(user, invitation.organization_id):
        raise _already_member()
    if _practitioner_taken(invitation.organization_id, invitation.practitioner_id, except_user=user.pk):
        raise _practitioner_taken_error()
    membership = Membership.objects.create(
        user=user,
        organization_id=invitation.organization_id,
        role=invitation.role,
        practitioner=invitation.practitioner,
    )
    agendas = _org_agendas(invitation.organization)
    granted: dict[str, dict[str, bool]] = {}
    for raw_id, data in (invitation.rights or {}).items():
        agenda_id = uuid.UUID(raw_id)
        wanted = AgendaRights.from_dict(data)
        if agenda_id in agendas and not wanted.none:  # an agenda closed since the invitation is skipped
            AgendaAccess.objects.create(
                user=user,
                agenda_id=agenda_id,
                can_view=True,
                can_book=wanted.book,
                can_manage=wanted.manage,
                can_force=wanted.force,
            )
            granted[raw_id] = wanted.as_dict()
    invitation.accepted_at = clock.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    who = Actor(kind=ActorKind.STAFF, channel=actor.channel, user=user, ip=actor.ip, role=str(invitation.role))
    audit_record(
        actor=who,
        action=Action.CREATE,
        object_type="membership",
        object_id=membership.pk,
        changes={
            "invitation": str(invitation.pk),
            "organization": str(invitation.organization_id),
            "member": str(user.pk),
            "account_created": created,
            "role": [None, str(invitation.role)],
            "practitioner": [None, str(invitation.practitioner_id) if invitation.practitioner_id else None],
            "rights": [None, granted],
        },
        touched=[Touched(organization_id=invitation.organization_id)],
        via="invitation_accept",
    )
    return membership


def _effective_rights(organization_id: uuid.UUID, user_id: Any) -> dict[uuid.UUID, AgendaRights]:
    """What the person may do on each agenda of the organization, all roles together: every right for
    an admin, and for a practitioner on their own agenda; explicit grants for the rest (as
    `selectors.staff_actor` computes it). Compared before and after a role change or a removal, it
    says whose agendas are concerned, so their practitioners can be told."""
    rows = list(
        Membership.objects.filter(user_id=user_id, organization_id=organization_id).values_list(
            "role", "practitioner_id"
        )
    )
    admin = any(role == Role.ORG_ADMIN for role, _p in rows)
    own = {p for role, p in rows if role == Role.PRACTITIONER and p is not None}
    grants = {
        a.agenda_id: AgendaRights.of(a)
        for a in AgendaAccess.objects.filter(user_id=user_id, agenda__organization_id=organization_id)
    }
    full = AgendaRights(view=True, book=True, manage=True)
    out: dict[uuid.UUID, AgendaRights] = {}
    for agenda_id, practitioner_id in Agenda.objects.filter(
        organization_id=organization_id, is_active=True
    ).values_list("pk", "practitioner_id"):
        granted = grants.get(agenda_id, AgendaRights())
        out[agenda_id] = full if admin or practitioner_id in own else granted
    return out


def _effective_changes(
    before: dict[uuid.UUID, AgendaRights], after: dict[uuid.UUID, AgendaRights]
) -> list[RightsChange]:
    return [
        RightsChange(aid, before.get(aid, AgendaRights()), after.get(aid, AgendaRights()))
        for aid in sorted(set(before) | set(after))
        if before.get(aid, AgendaRights()) != after.get(aid, AgendaRights())
    ]


# --- members -----------------------------------------------------------------------------------------


@transaction.atomic
def membership_role_change(
    *, actor: Actor, membership_id: uuid.UUID | str, role: str, practitioner_id: uuid.UUID | str | None = None
) -> Membership:
    """Give a member another role in the organization (and, for the practitioner role, their
    practitioner profile). The last administrator cannot stop being one. The member is told by e-mail."""
    membership = access_membership(actor, membership_id)
    new_role = _clean_role(role)
    profile = _checked_practitioner(membership.organization, new_role, practitioner_id)
    before = {"role": str(membership.role), "practitioner": str(membership.practitioner_id or "") or None}
    after = {"role": str(new_role), "practitioner": str(profile) if profile else None}
    if before == after:
        return membership
    if (
        new_role != membership.role
        and Membership.objects.filter(
            user_id=membership.user_id, organization_id=membership.organization_id, role=new_role
        )
        .exclude(pk=membership.pk)
        .exists()
    ):
        raise Conflict(_("This member already has this role in your organization."), code="role-held")
    if (
        membership.role == Role.ORG_ADMIN
        and new_role != Role.ORG_ADMIN
        and _lock_admins(membership.organization_id) <= 1
    ):
        raise _last_admin_error()
    if _practitioner_taken(membership.organization_id, profile, except_user=membership.user_id):
        raise _practitioner_taken_error()
    old_role = str(membership.role)
    reach_before = _effective_rights(membership.organization_id, membership.user_id)
    membership.role = new_role
    membership.practitioner_id = profile
    membership.save(update_fields=["role", "practitioner", "updated_at"])
    reach = _effective_changes(reach_before, _effective_rights(membership.organization_id, membership.user_id))
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="membership",
        object_id=membership.pk,
        changes={
            "organization": str(membership.organization_id),
            "member": str(membership.user_id),
            **changes_between(before, after),
        },
        touched=[Touched(organization_id=membership.organization_id)],
        via="membership_role_change",
    )
    events.emit(
        names.ROLE_CHANGED,
        organization_id=membership.organization_id,
        user_id=membership.user_id,
        before=old_role,
        after=str(new_role),
    )
    # The practitioners whose agendas the new role opens or closes are told too (the member already is).
    _emit_rights(membership, reach, tell_member=False)
    return membership


@dataclasses.dataclass(frozen=True, slots=True)
class RightsChange:
    """One agenda whose rights changed for one member (what the audit row and the e-mails say)."""

    agenda_id: uuid.UUID
    before: AgendaRights
    after: AgendaRights


def _apply_rights(user_id: uuid.UUID, agenda_id: uuid.UUID, wanted: AgendaRights) -> RightsChange | None:
    access = AgendaAccess.objects.select_for_update().filter(user_id=user_id, agenda_id=agenda_id).first()
    before = AgendaRights.of(access)
    after = wanted.normalized()
    if before == after:
        return None
    if after.none:
        if access is not None:
            access.delete()
    elif access is None:
        AgendaAccess.objects.create(
            user_id=user_id,
            agenda_id=agenda_id,
            can_view=True,
            can_book=after.book,
            can_manage=after.manage,
            can_force=after.force,
        )
    else:
        access.can_view, access.can_book, access.can_manage, access.can_force = (
            True,
            after.book,
            after.manage,
            after.force,
        )
        access.save(update_fields=["can_view", "can_book", "can_manage", "can_force", "updated_at"])
    return RightsChange(agenda_id, before, after)


def _audit_rights(actor: Actor, membership: Membership, change: RightsChange, via: str) -> None:
    if change.before.none:
        action = Action.GRANT
    elif change.after.none:
        action = Action.REVOKE
    else:
        action = Action.UPDATE
    audit_record(
        actor=actor,
        action=action,
        object_type="agenda_access",
        object_id=change.agenda_id,
        changes={
            "organization": str(membership.organization_id),
            "member": str(membership.user_id),
            "membership": str(membership.pk),
            "agenda": str(change.agenda_id),
            **changes_between(change.before.as_dict(), change.after.as_dict()),
        },
        touched=[Touched(organization_id=membership.organization_id)],
        via=via,
    )


def _emit_rights(membership: Membership, changes: list[RightsChange], *, tell_member: bool = True) -> None:
    if changes:
        events.emit(
            names.RIGHTS_CHANGED,
            organization_id=membership.organization_id,
            user_id=membership.user_id,
            changes=[(c.agenda_id, c.before.as_dict(), c.after.as_dict()) for c in changes],
            tell_member=tell_member,
        )


@transaction.atomic
def agenda_rights_set(
    *, actor: Actor, membership_id: uuid.UUID | str, rights: Mapping[Any, AgendaRights]
) -> list[RightsChange]:
    """Set what a member may do on each given agenda of the organization (see; book, move, cancel,
    mark; manage visit reasons, hours and absences). No right at all removes the grant. An agenda of
    another organization refuses the whole change. One audit row per agenda that changed; the member
    and each agenda's practitioner are told by e-mail. Returns the changes (none: nothing written)."""
    membership = access_membership(actor, membership_id)
    checked = _checked_rights(membership.organization, rights)
    changes = [c for aid, wanted in checked.items() if (c := _apply_rights(membership.user_id, aid, wanted))]
    for change in changes:
        _audit_rights(actor, membership, change, "agenda_rights_set")
    _emit_rights(membership, changes)
    return changes


@transaction.atomic
def membership_remove(*, actor: Actor, membership_id: uuid.UUID | str) -> None:
    """Take a role away from a member; with their last role in the organization go their rights on its
    agendas. The last administrator cannot be removed. The member and the practitioners whose agendas
    they could reach are told by e-mail."""
    membership = access_membership(actor, membership_id)
    if membership.role == Role.ORG_ADMIN and _lock_admins(membership.organization_id) <= 1:
        raise _last_admin_error()
    reach_before = _effective_rights(membership.organization_id, membership.user_id)
    others = Membership.objects.filter(user_id=membership.user_id, organization_id=membership.organization_id).exclude(
        pk=membership.pk
    )
    changes: list[RightsChange] = []
    if not others.exists():
        for access in AgendaAccess.objects.select_for_update().filter(
            user_id=membership.user_id, agenda__organization_id=membership.organization_id
        ):
            changes.append(RightsChange(access.agenda_id, AgendaRights.of(access), AgendaRights()))
            access.delete()
    role = str(membership.role)
    membership_pk = membership.pk
    membership.delete()
    membership.pk = membership_pk
    audit_record(
        actor=actor,
        action=Action.DELETE,
        object_type="membership",
        object_id=membership_pk,
        changes={
            "organization": str(membership.organization_id),
            "member": str(membership.user_id),
            "role": [role, None],
            "practitioner": [str(membership.practitioner_id) if membership.practitioner_id else None, None],
        },
        touched=[Touched(organization_id=membership.organization_id)],
        via="membership_remove",
    )
    for change in changes:
        _audit_rights(actor, membership, change, "membership_remove")
    events.emit(
        names.MEMBER_REMOVED,
        organization_id=membership.organization_id,
        user_id=membership.user_id,
        role=role,
    )
    # Everyone concerned by what the member can no longer reach (grants and what the role gave).
    _emit_rights(
        membership, _effective_changes(reach_before, _effective_rights(membership.organization_id, membership.user_id))
    )
