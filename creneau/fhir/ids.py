"""Composite FHIR ids. A FHIR id is at most 64 characters of [A-Za-z0-9-.].

- PractitionerRole and Schedule: practitioner UUID hex + site UUID hex (64 characters).
- Slot: motif UUID + site UUID + start (UTC minutes since the epoch), 36 bytes in base64 with the
  alphabet `A-Za-z0-9-.` (48 characters).

They are made of random UUIDs, so they are no easier to guess than the objects they name, and the
server resolves every part against the caller's scope before answering: an id pointing into another
organization is 'not found' like any made-up one."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid

from django.utils.translation import gettext as _

from creneau.core.errors import NotFound

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def pair_id(a: uuid.UUID, b: uuid.UUID) -> str:
    return a.hex + b.hex


def parse_pair_id(value: str) -> tuple[uuid.UUID, uuid.UUID]:
    if not _HEX64.match(value or ""):
        raise NotFound(_("Not found."))
    return uuid.UUID(value[:32]), uuid.UUID(value[32:])


def slot_id(motif_id: uuid.UUID, site_id: uuid.UUID, start: dt.datetime) -> str:
    minutes = int((start - _EPOCH).total_seconds()) // 60
    raw = motif_id.bytes + site_id.bytes + minutes.to_bytes(4, "big")
    return base64.b64encode(raw, altchars=b"-.").decode()


def parse_slot_id(value: str) -> tuple[uuid.UUID, uuid.UUID, dt.datetime]:
    if not isinstance(value, str) or len(value) != 48:
        raise NotFound(_("Not found."))
    try:
        raw = base64.b64decode(value.encode(), altchars=b"-.", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NotFound(_("Not found.")) from exc
    if len(raw) != 36:
        raise NotFound(_("Not found."))
    minutes = int.from_bytes(raw[32:], "big")
    try:
        start = _EPOCH + dt.timedelta(minutes=minutes)
    except OverflowError as exc:
        raise NotFound(_("Not found.")) from exc
    return uuid.UUID(bytes=raw[:16]), uuid.UUID(bytes=raw[16:32]), start
