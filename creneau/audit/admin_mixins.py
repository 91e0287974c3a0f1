"""Operators opening a record with personal data in the Django admin leave an audit row like anyone."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from creneau.core.actors import Actor

from .models import Action
from .services import Touched, audit_record


class AuditedAdminMixin:
    """Records a read each time an operator opens one object's page."""

    audit_object_type = ""

    def audit_touched(self, obj: Any) -> Touched:
        raise NotImplementedError

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is not None:
            audit_record(
                actor=Actor.for_operator(request.user, ip=request.META.get("REMOTE_ADDR")),  # type: ignore[arg-type]
                action=Action.READ,
                object_type=self.audit_object_type,
                touched=[self.audit_touched(obj)],
                via="admin",
            )
        return obj
