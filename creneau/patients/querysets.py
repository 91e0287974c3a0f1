"""Patient querysets record, once evaluated for an actor, which patients they returned."""

from __future__ import annotations

from typing import Any

from creneau.audit.querysets import AuditedQuerySet
from creneau.audit.services import Touched


class PatientQuerySet(AuditedQuerySet):
    def touched(self, obj: Any) -> Touched:
        org = None
        if self._audit is not None and len(self._audit[0].organization_ids) == 1:
            (org,) = self._audit[0].organization_ids
        return Touched(patient_id=obj.pk, organization_id=org or obj.created_by_organization_id)
