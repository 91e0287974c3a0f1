"""Model fields that keep personal data encrypted in the database and readable in Python.

`EncryptedCharField`, `EncryptedEmailField` and `EncryptedDateField` behave like their Django parents
on a model instance (same Python values, same validation and form fields) but store an AES-GCM token in
a text column. Encryption happens in `pre_save`, where the row is known (table + UUID pk + field go into
the associated data); values read from the database stay sealed until the attribute is first read on
its instance. Such columns cannot be filtered or ordered by value: search through a `BlindIndexField`.

With ``record="<name>"`` the field has no column of its own: its value lives, with the other members of
that record, in one `SealedRecordField` token (one AES-GCM open per row instead of one per field). The
first read of any member opens the record and leaves every member in the instance dict, so later reads
are plain attribute lookups; assignment, forms, validation and constructor kwargs work as before.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.query_utils import DeferredAttribute
from django.utils.translation import gettext_lazy as _

from .aead import (
    RECORD_NONE,
    RECORD_SEP,
    DecryptionError,
    associated_data,
    pk_bytes,
    record_aad_prefix,
    seal,
    seal_record,
    unseal,
    unseal_record,
)
from .blind import NORMALIZERS, blind_index

_MISSING: Any = object()


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


class SealedMemberAttribute:
    """Non-data descriptor of a record member: only runs while the value is not yet in the instance dict."""

    def __init__(self, field: EncryptedMixin) -> None:
        self.field = field

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        self.field.record_field.open_into(instance)
        return instance.__dict__[self.field.attname]


def _no_record_separators(value: Any) -> None:
    """Record members cannot hold NUL or SOH (the record's separator and None marker): say so at validation."""
    if isinstance(value, str) and (RECORD_SEP in value or RECORD_NONE in value):
        raise ValidationError(_("Control characters are not allowed here."), code="null_characters_not_allowed")


def _refuse_query(name: str) -> NoReturn:
    raise EncryptedFieldQueryError(
        f"{name} is encrypted: save it through the model instance; search it through its blind index."
    )


class EncryptedMixin:
    """Shared behaviour of the encrypted fields. Concrete classes mix it in front of a Django field."""

    descriptor_class: Any = EncryptedAttribute
    attname: str
    name: str
    model: type[models.Model]

    def __init__(self, *args: Any, record: str | None = None, **kwargs: Any) -> None:
        self.record = record
        super().__init__(*args, **kwargs)
        if record:
            self.validators.append(_no_record_separators)  # type: ignore[attr-defined]

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()  # type: ignore[misc]
        if self.record:
            kwargs["record"] = self.record
        return name, path, args, kwargs

    # A record member: no column (private field, like GenericForeignKey), read through its record.
    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only=private_only or bool(self.record))  # type: ignore[misc]
        if self.record:
            setattr(cls, self.attname, SealedMemberAttribute(self))

    def get_attname_column(self) -> tuple[str, str | None]:
        attname, column = super().get_attname_column()  # type: ignore[misc]
        return attname, None if self.record else column

    def get_col(self, alias: str, output_field: Any = None) -> Any:
        if self.record:
            _refuse_query(self.name)  # filter, exclude, order_by, values, F(): there is no column to read
        return super().get_col(alias, output_field)  # type: ignore[misc]

    @functools.cached_property
    def record_field(self) -> SealedRecordField:
        field = self.model._meta.get_field(self.record or "")
        assert isinstance(field, SealedRecordField)
        return field

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
        _refuse_query(self.name)

    def get_db_prep_value(self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False) -> Any:
        if value is None or isinstance(value, Ciphertext):
            return value
        if isinstance(value, Sealed):
            return value.token
        _refuse_query(self.name)

    def get_db_prep_save(self, value: Any, connection: BaseDatabaseWrapper) -> Any:
        return self.get_db_prep_value(value, connection)


class EncryptedCharField(EncryptedMixin, models.CharField):
    pass


class EncryptedEmailField(EncryptedMixin, models.EmailField):
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


class SealedRecordField(EncryptedMixin, models.TextField):
    """One token sealing the fields declared with ``record=<this field's name>`` (AAD: table|name|pk).

    ``layout`` is the storage order of the members: append new members at its end (older records then
    read them as their default); reordering or removing needs a data migration. The token is read from
    the database as is (no per-row converter), opened on the first read of a member, and re-sealed from
    the members' current values on every save."""

    descriptor_class = DeferredAttribute

    def __init__(self, *args: Any, layout: Sequence[str] = (), **kwargs: Any) -> None:
        self.layout = tuple(layout)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["layout"] = list(self.layout)
        return name, path, args, kwargs

    def get_db_converters(self, connection: BaseDatabaseWrapper) -> list[Any]:
        return []  # the token stays a str in the instance dict; open_into() is the only reader

    @functools.cached_property
    def members(self) -> tuple[EncryptedMixin, ...]:
        """The member fields, in layout order."""
        found = {
            f.name: f
            for f in self.model._meta.private_fields
            if isinstance(f, EncryptedMixin) and f.record == self.name
        }
        if set(found) != set(self.layout):
            raise ImproperlyConfigured(f"{self.model.__name__}.{self.name}: layout and record members differ.")
        return tuple(found[n] for n in self.layout)

    @functools.cached_property
    def _attnames(self) -> tuple[str, ...]:
        return tuple(m.attname for m in self.members)

    @functools.cached_property
    def _decoders(self) -> tuple[tuple[str, Any], ...]:
        """(attname, from_plaintext) of the members whose value is not the stored text itself."""
        return tuple(
            (m.attname, m.from_plaintext)
            for m in self.members
            if type(m).from_plaintext is not EncryptedMixin.from_plaintext
        )

    @functools.cached_property
    def _aad_prefix(self) -> bytes:
        return record_aad_prefix(self.model._meta.db_table, self.name)

    def _aad(self, instance: models.Model) -> bytes:
        pk = instance.pk
        if pk is None:
            raise ValueError("Encrypted fields need the primary key before saving (use a UUID default).")
        return self._aad_prefix + pk_bytes(pk)

    def open_into(self, instance: models.Model) -> None:
        """Put every member not yet set on the instance into its dict, from the record (or defaults)."""
        d = instance.__dict__
        token = d.get(self.attname, _MISSING)
        if token is _MISSING:
            token = getattr(instance, self.attname)  # deferred column: loads it
        if token:
            values: list[Any] = unseal_record(token, aad=self._aad(instance))
        elif instance._state.adding:
            values = []
        else:
            raise DecryptionError("stored row has no sealed record")
        attnames = self._attnames
        if len(values) == len(attnames) and d.keys().isdisjoint(attnames):
            d.update(zip(attnames, values, strict=True))  # the common case: a row just read
            for attname, decode in self._decoders:
                if d[attname] is not None:
                    d[attname] = decode(d[attname])
            return
        if len(values) > len(attnames):
            raise DecryptionError("record has more values than its layout")
        decoders = dict(self._decoders)
        for i, member in enumerate(self.members):
            if member.attname in d:
                continue  # assigned since the row was read: the new value wins
            if i >= len(values):
                d[member.attname] = member.get_default()  # type: ignore[attr-defined]  # added to the layout later
            elif values[i] is None or member.attname not in decoders:
                d[member.attname] = values[i]
            else:
                d[member.attname] = decoders[member.attname](values[i])

    def forget_members(self, instance: models.Model) -> None:
        """Drop cached member values (the record was reloaded: they would be stale)."""
        for attname in self._attnames:
            instance.__dict__.pop(attname, None)

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        d = model_instance.__dict__
        if not all(a in d for a in self._attnames):
            self.open_into(model_instance)
        values = [None if d[m.attname] is None else m.to_plaintext(d[m.attname]) for m in self.members]
        token = Ciphertext(seal_record(values, aad=self._aad(model_instance)))
        d[self.attname] = token
        return token


def refuse_record_members(model: type[models.Model], names: Iterable[str]) -> None:
    """EncryptedFieldQueryError if a queryset-level write names a record member (it has no column)."""
    for f in model._meta.private_fields:
        if isinstance(f, EncryptedMixin) and f.record and f.name in names:
            _refuse_query(f.name)


def expand_update_fields(model: type[models.Model], update_fields: Iterable[str]) -> list[str]:
    """`save(update_fields=...)` naming record members: save their record and the blind indexes they feed."""
    names = list(update_fields)
    members = {f.name: f.record for f in model._meta.private_fields if isinstance(f, EncryptedMixin) and f.record}
    touched = {n for n in names if n in members}
    if not touched:
        return names
    out = [n for n in names if n not in members]
    for record in dict.fromkeys(members[n] for n in touched):
        if record not in out:
            out.append(record)
    for f in model._meta.concrete_fields:
        if isinstance(f, BlindIndexField) and touched & set(f.sources) and f.name not in out:
            out.append(f.name)
    return out


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
