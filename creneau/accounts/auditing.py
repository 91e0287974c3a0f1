"""The audit row of an account write (shared by the account service modules): identifiers only, never an
e-mail address; `via` names the service."""

from __future__ import annotations

from typing import Any

from creneau.audit.models import Outcome
from creneau.audit.services import audit_record
from creneau.core.actors import Actor

ACCOUNT = "account"


def audit_account(
    actor: Actor,
    action: str,
    object_id: object,
    via: str,
    *,
    object_type: str = ACCOUNT,
    changes: dict[str, Any] | None = None,
    outcome: str = Outcome.OK,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        via=via,
        changes=changes,
        outcome=outcome,
    )
