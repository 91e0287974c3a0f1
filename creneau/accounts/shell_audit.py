"""Personal data read from the shell is audited like any other read.

A command that reads identities or messages in bulk (`dumpdata` on a personal-data model, `rotate_keys`)
names its operator (`--operator`, the e-mail of a platform operator account) and writes one audit event
per run (or per batch) with the scope: the models and row counts, and every patient and appointment it
touched, so that a breach's scope computed from the audit trail includes what left through a terminal."""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.management.base import CommandError
from django.db import models

from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.core.crypto.fields import EncryptedMixin

from .models import User

# Personal data without encrypted columns: appointments (who sees which practitioner) and the
# per-patient rows of these apps.
_PERSONAL_LABELS = {"booking.appointment"}
_PERSONAL_APPS = {"patients", "accounts", "notifications"}


def is_personal(model: type[models.Model]) -> bool:
    meta = model._meta
    return (
        any(isinstance(f, EncryptedMixin) for f in meta.concrete_fields)
        or meta.label_lower in _PERSONAL_LABELS
        or meta.app_label in _PERSONAL_APPS
    )


def operator_actor(email: str | None, *, command: str) -> Actor:
    """The platform operator running `command`, from `--operator` (an active staff account)."""
    if not email:
        raise CommandError(
            f"{command} reads personal data: name yourself with --operator <your operator account's e-mail> "
            "(the read is audited)."
        )
    user = User.objects.by_email(email.strip().lower()).filter(is_active=True).first()
    if user is None or not (user.is_staff or user.is_superuser):
        raise CommandError("--operator must be the e-mail of an active platform operator account.")
    return Actor(kind=ActorKind.OPERATOR, channel=Channel.COMMAND, user=user, role="operator")


def command_actor(email: str | None, *, command: str) -> tuple[Actor, str]:
    """For maintenance commands: the named operator, else the system, with the OS account that ran it."""
    if email:
        return operator_actor(email, command=command), ""
    return Actor.system(), getpass.getuser()


def touched_by(model: type[models.Model], queryset: models.QuerySet[Any]) -> list[tuple[uuid.UUID | None, ...]]:
    """(patient_id, appointment_id, organization_id) of the rows a read covers, when they are patients'."""
    label = model._meta.label_lower
    if label == "patients.patient":
        return [(pk, None, None) for pk in queryset.values_list("pk", flat=True)]
    if label == "booking.appointment":
        return [tuple(r) for r in queryset.values_list("patient_id", "pk", "organization_id")]
    return []


def record_shell_read(
    *,
    actor: Actor,
    command: str,
    scope: dict[str, int],
    touched: Iterable[tuple[uuid.UUID | None, ...]] = (),
    reason: str = "",
    os_user: str = "",
) -> None:
    """One audit event: who (operator, or system + OS account), which command, which models and counts,
    and every patient/appointment row covered."""
    details: dict[str, Any] = {"scope": dict(sorted(scope.items()))}
    if reason:
        details["reason"] = reason[:500]
    if os_user:
        details["os_user"] = os_user[:64]
    audit_record(
        actor=actor,
        action=Action.EXPORT,
        object_type="shell",
        via=f"command:{command}"[:80],
        touched=[Touched(*t) for t in touched],
        changes=details,
    )
