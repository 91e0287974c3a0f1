"""What platform operators change in the Django admin: an account's status fields, deleting an account,
memberships. Organization admins manage their team through `accounts.team`."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record, changes_between
from creneau.core.actors import Actor, ActorKind
from creneau.core.errors import PermissionDenied, PolicyViolation

from .auditing import audit_account
from .models import Membership, User

# --- operators (Django admin) ------------------------------------------------------------------------------

OPERATOR_FIELDS = ("is_active", "is_staff", "language")


def account_operator_update(*, actor: Actor, user: User, values: dict[str, Any]) -> dict[str, list[Any]]:
    """An operator changes an account's status fields in the admin (never its address or password).
    Audited with the fields' before and after; nothing written when nothing changes."""
    unknown = set(values) - set(OPERATOR_FIELDS)
    if unknown:
        raise PolicyViolation(_("These account fields cannot be changed here."), code="field-not-editable")
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=user.pk)
        before = {f: getattr(current, f) for f in values}
        changes = changes_between(before, values)
        if not changes:
            return {}
        for field, value in values.items():
            setattr(user, field, value)
        user.save(update_fields=list(changes))
        audit_account(actor, Action.UPDATE, user.pk, "account_operator_update", changes=changes)
    return changes


def account_operator_delete(*, actor: Actor, user: User) -> None:
    """An operator deletes an account in the admin (its memberships, device and messages go with it)."""
    with transaction.atomic():
        user_id = user.pk
        user.delete()
        audit_account(actor, Action.DELETE, user_id, "account_operator_delete")


MEMBERSHIP_FIELDS = ("organization_id", "role", "practitioner_id")


def _membership_values(membership: Membership) -> dict[str, Any]:
    return {f: (str(v) if (v := getattr(membership, f)) is not None else None) for f in MEMBERSHIP_FIELDS}


def _require_operator(actor: Actor) -> None:
    if actor.kind != ActorKind.OPERATOR:
        raise PermissionDenied(_("Only platform operators change memberships here."), code="operator-only")


def membership_operator_save(*, actor: Actor, membership: Membership) -> dict[str, list[Any]]:
    """An operator adds or changes a membership in the admin (the form has set the values on
    `membership`). Audited with the organization, role and practitioner before and after, in the
    same transaction; nothing written when nothing changed. Organization admins use `accounts.team`."""
    _require_operator(actor)
    with transaction.atomic():
        current = Membership.objects.select_for_update().filter(pk=membership.pk).first()
        before = _membership_values(current) if current is not None else dict.fromkeys(MEMBERSHIP_FIELDS)
        changes = changes_between(before, _membership_values(membership))
        if current is not None and not changes:
            return {}
        membership.save()
        audit_record(
            actor=actor,
            action=Action.CREATE if current is None else Action.UPDATE,
            object_type="membership",
            object_id=membership.pk,
            via="membership_operator_save",
            changes={"member": str(membership.user_id), **changes},
            touched=[Touched(organization_id=membership.organization_id)],
        )
    return changes


def membership_operator_delete(*, actor: Actor, membership: Membership) -> None:
    """An operator removes a membership in the admin; audited in the same transaction."""
    _require_operator(actor)
    with transaction.atomic():
        values, membership_pk = _membership_values(membership), membership.pk
        membership.delete()
        audit_record(
            actor=actor,
            action=Action.DELETE,
            object_type="membership",
            object_id=membership_pk,
            via="membership_operator_delete",
            changes={"member": str(membership.user_id), **{f: [v, None] for f, v in values.items()}},
            touched=[Touched(organization_id=membership.organization_id)],
        )
