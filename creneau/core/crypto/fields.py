"""Model fields that keep personal data encrypted in the database and readable in Python.

`EncryptedCharField`, `EncryptedEmailField` and `EncryptedDateField` behave like their Django parents
on a model instance (same Python values, same validation and form fields) but store an AES-GCM token in
a text column. Encryption happens in `pre_save`, where the row is known (table + UUID pk + field go into
the associated data); values read from the database stay sealed until the attribute is first read on
its instance. Such columns cannot be filtered or ordered by value: search through a `BlindIndexField`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.query_utils import DeferredAttribute

from .aead import associated_data, seal, unseal
from .blind import NORMALIZERS, blind_index


class Ciphertext(str):
    """A value already sealed for the database (written as is)."""


class Sealed:
    """A token read from the database, opened on first access through its model instance."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return "<sealed>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sealed) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)


class EncryptedFieldQueryError(TypeError):
    """Raised when code tries to filter, order or bulk-update an encrypted column by plaintext."""


class EncryptedAttribute(DeferredAttribute):
    """Opens a sealed value the first time it is read, with the instance's table, pk and field as AAD."""

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, Sealed):
            field: EncryptedMixin = self.field  # type: ignore[assignment]
            value = field.open_for(instance, value.token)
            instance.__dict__[field.attname] = value
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class EncryptedMixin:
    """Shared behaviour of the encrypted fields. Concrete classes mix it in front of a Django field."""

    descriptor_class = EncryptedAttribute
    attname: str
    name: str

    def get_internal_type(self) -> str:
        return "TextField"

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        return connection.data_types["TextField"]

    def _aad(self, instance: models.Model) -> bytes:
        if instance.pk is None:
            raise ValueError("Encrypted fields need the primary key before saving (use a UUID default).")
        return associated_data(instance._meta.db_table, instance.pk, self.name)

    # Python value <-> plaintext string
    def to_plaintext(self, value: Any) -> str:
        return str(value)

    def from_plaintext(self, text: str) -> Any:
        return text

    def seal_for(self, instance: models.Model, value: Any) -> Ciphertext | None:
        if value is None:
            return None
        return Ciphertext(seal(self.to_plaintext(value), aad=self._aad(instance)))

    def open_for(self, instance: models.Model, token: str) -> Any:
        return self.from_plaintext(unseal(token, aad=self._aad(instance)))

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if isinstance(value, Ciphertext):
            return value
        return self.seal_for(model_instance, value)

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        return None if value is None else Sealed(value)

    def get_prep_value(self, value: Any) -> Any:
        if value is None or isinstance(value, Ciphertext | Sealed):
            return value
        raise EncryptedFieldQueryError(
            f"{self.name} is encrypted: save it through the model instance; search it through its blind index."
        )

    def get_db_prep_value(self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False) -> Any:
        if value is None or isinstance(value, Ciphertext):
            return value
        if isinstance(value, Sealed):
            return value.token
        raise EncryptedFieldQueryError(
            f"{self.name} is encrypted: save it through the model instance; search it through its blind index."
        )

    def get_db_prep_save(self, value: Any, connection: BaseDatabaseWrapper) -> Any:
        return self.get_db_prep_value(value, connection)


class EncryptedCharField(EncryptedMixin, models.CharField):  # type: ignore[misc]
    pass


class EncryptedEmailField(EncryptedMixin, models.EmailField):  # type: ignore[misc]
    pass


class EncryptedDateField(EncryptedMixin, models.DateField):  # type: ignore[misc]
    def to_plaintext(self, value: Any) -> str:
        if isinstance(value, str):
            value = dt.date.fromisoformat(value)
        if isinstance(value, dt.datetime):
            value = value.date()
        assert isinstance(value, dt.date)
        return value.isoformat()

    def from_plaintext(self, text: str) -> Any:
        return dt.date.fromisoformat(text)

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        # DateField.pre_save handles auto_now; the mixin's version (first in the MRO) is the one we want.
        return EncryptedMixin.pre_save(self, model_instance, add)


class BlindIndexField(models.CharField):
    """HMAC of normalized source fields, recomputed on every save (including bulk_create)."""

    def __init__(self, *args: Any, kind: str = "", sources: Sequence[str] = (), **kwargs: Any) -> None:
        if kind and kind not in NORMALIZERS:
            raise ValueError(f"unknown blind index kind {kind!r}")
        self.kind = kind
        self.sources = tuple(sources)
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["kind"] = self.kind
        kwargs["sources"] = list(self.sources)
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = blind_index(self.kind, *(getattr(model_instance, s) for s in self.sources))
        setattr(model_instance, self.attname, value)
        return value
