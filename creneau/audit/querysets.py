"""Querysets that write the audit trail when they return personal records.

A selector scopes a queryset to an actor and marks it `.audited(actor, ...)`; from then on, whatever
evaluates it (a list page, a FHIR search bundle, `.get()`), the rows it actually returned are recorded.
Model rows only: `values()`/`values_list()` on an audited queryset may ask for the primary key alone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from django.db import models
from django.db.models.expressions import Combinable
from django.db.models.query import ModelIterable

if TYPE_CHECKING:
    from creneau.core.actors import Actor

    from .services import Touched

_ID_FIELDS = {"pk", "id"}


class AuditedQuerySet(models.QuerySet[Any]):
    _audit: tuple[Actor, str, str] | None = None

    def audited(self, actor: Actor, *, action: str = "search", via: str = "") -> Self:
        clone = self._chain()  # type: ignore[attr-defined]
        clone._audit = (actor, action, via)
        return clone

    def _clone(self) -> Self:
        clone = super()._clone()  # type: ignore[misc]
        clone._audit = self._audit
        return clone

    def values(self, *fields: str | Combinable, **expressions: Any) -> Any:
        self._refuse_personal_projection(fields, expressions)
        return super().values(*fields, **expressions)

    def values_list(self, *fields: str | Combinable, flat: bool = False, named: bool = False) -> Any:
        self._refuse_personal_projection(fields, {})
        return super().values_list(*fields, flat=flat, named=named)

    def _refuse_personal_projection(self, fields: tuple[str | Combinable, ...], expressions: dict[str, Any]) -> None:
        if self._audit is not None and (expressions or not fields or not set(fields) <= _ID_FIELDS):
            raise TypeError("An audited queryset returns model rows (or primary keys only).")

    def iterator(self, chunk_size: int | None = None) -> Any:
        if self._audit is not None:
            raise TypeError("Iterate an audited queryset normally so that what it returns is recorded.")
        return super().iterator(chunk_size=chunk_size) if chunk_size else super().iterator()

    def _fetch_all(self) -> None:
        fresh = self._result_cache is None
        super()._fetch_all()
        if fresh and self._audit is not None and self._iterable_class is ModelIterable:
            actor, action, via = self._audit
            from .services import audit_record

            rows = self._result_cache or []
            if not rows and action == "read":
                return  # the caller records the miss as not-found
            audit_record(
                actor=actor,
                action=action,
                object_type=self.model._meta.model_name or "",
                touched=[self.touched(obj) for obj in rows],
                via=via,
            )

    def touched(self, obj: Any) -> Touched:
        raise NotImplementedError
