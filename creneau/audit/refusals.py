"""The audit event of a request refused at the door because its principal is suspended: the answer to
core.suspension's CRENEAU_REFUSAL_RECORDER (core cannot import audit)."""

from __future__ import annotations

from creneau.core.actors import Actor

from .models import Action, Outcome
from .services import audit_record


def record_refusal(actor: Actor, *, via: str) -> None:
    """One event, outcome denied (detection does not count denied events)."""
    audit_record(actor=actor, action=Action.READ, object_type="request", outcome=Outcome.DENIED, via=via)
