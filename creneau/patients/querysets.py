"""Patient querysets record, once evaluated for an actor, which patients they returned."""

from __future__ import annotations

from typing import Any

from creneau.audit.querysets import AuditedQuerySet
from creneau.audit.services import Touched
from creneau.core.crypto.fields import refuse_record_members


class PatientQuerySet(AuditedQuerySet):
    def touched(self, obj: Any) -> Touched:
        org = None
        if self._audit is not None and len(self._audit[0].organization_ids) == 1:
            (org,) = self._audit[0].organization_ids
        return Touched(patient_id=obj.pk, organization_id=org or obj.created_by_organization_id)

    def update(self, **kwargs: Any) -> int:
        refuse_record_members(self.model, kwargs)  # a clear error, not Django's "only concrete fields"
        return super().update(**kwargs)

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        refuse_record_members(self.model, fields)
        return super().bulk_update(objs, fields, batch_size=batch_size)
