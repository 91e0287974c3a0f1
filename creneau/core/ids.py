"""Identifier parsing: a malformed id is simply 'not found', never a 500 or a hint."""

from __future__ import annotations

import uuid

from django.utils.translation import gettext as _

from .errors import NotFound


def parse_id(value: uuid.UUID | str | None) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError) as exc:
        raise NotFound(_("Not found.")) from exc
