"""Helpers every FHIR resource view shares: scoping the caller, parsing ids and codes, paging."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from .. import params
from .. import selectors as scoped
from ..http import Caller, FhirError, authenticate, fhir_response


def valid_uuids(values: list[str]) -> list[uuid.UUID]:
    """Valid UUIDs among search values; the others match nothing."""
    out = []
    for v in values:
        try:
            out.append(uuid.UUID(v))
        except ValueError:
            continue
    return out


def token_codes(query: Any, name: str, system: str) -> list[str]:
    return [code for sys, code in params.tokens(query, name) if sys in (None, "", system)]


def paged(request: HttpRequest, rtype: str, qs: QuerySet[Any], mapper: Any) -> HttpResponse:
    pg = params.page(request.GET)
    total = qs.count()
    rows = list(qs[pg.offset : pg.offset + pg.count]) if pg.count else []
    return fhir_response(params.bundle(request, rtype, [mapper(r) for r in rows], total=total, pg=pg))


CURSOR = "_cursor"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _cursor_token(moment: dt.datetime, pk: uuid.UUID) -> str:
    """Opaque position after a row: its `updated_at` (microseconds) and id. No personal data."""
    micros = (moment - _EPOCH) // dt.timedelta(microseconds=1)
    raw = micros.to_bytes(8, "big", signed=True) + pk.bytes
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_position(token: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        if len(raw) != 24:
            raise ValueError
        micros = int.from_bytes(raw[:8], "big", signed=True)
        return _EPOCH + dt.timedelta(microseconds=micros), uuid.UUID(bytes=raw[8:])
    except (binascii.Error, ValueError, OverflowError):
        raise FhirError(400, _("Invalid paging cursor; start again from the first page.")) from None


def keyset_paged(
    request: HttpRequest, rtype: str, qs: QuerySet[Any], mapper: Any, *, field: str, descending: bool
) -> HttpResponse:
    """Stable paging on a change timestamp (`_sort=_lastUpdated`), for incremental sync: the next link
    carries a cursor (the last row's timestamp and id) instead of an offset, so a row changed while a
    client pages is neither skipped nor repeated at its old version: having moved past the cursor, it
    comes once more, at its new version, on a later page. `total` counts the whole result."""
    pg = params.page(request.GET)
    if request.GET.get("_offset") not in (None, "", "0"):
        raise FhirError(400, _("With _sort=_lastUpdated, page with the next link's cursor, not _offset."))
    total = qs.count()
    order = (f"-{field}", "-pk") if descending else (field, "pk")
    rows_qs = qs
    if token := request.GET.get(CURSOR):
        moment, pk = _cursor_position(token)
        if descending:
            rows_qs = qs.filter(Q(**{f"{field}__lt": moment}) | Q(**{field: moment, "pk__lt": pk}))
        else:
            rows_qs = qs.filter(Q(**{f"{field}__gt": moment}) | Q(**{field: moment, "pk__gt": pk}))
    rows = list(rows_qs.order_by(*order)[: pg.count + 1]) if pg.count else []
    more, rows = len(rows) > pg.count, rows[: pg.count]
    body = params.bundle(request, rtype, [mapper(r) for r in rows], total=total, pg=pg)
    base = f"{params.base_url(request)}{rtype}?"

    def link(relation: str, cursor: str | None) -> dict[str, str]:
        q = request.GET.copy()
        q.pop("_offset", None)
        q.pop(CURSOR, None)
        q["_count"] = str(pg.count)
        if cursor:
            q[CURSOR] = cursor
        return {"relation": relation, "url": base + q.urlencode()}

    links = [link("self", request.GET.get(CURSOR))]
    if request.GET.get("_summary") != "count":
        links.append(link("first", None))
        if more and rows:
            last = rows[-1]
            links.append(link("next", _cursor_token(getattr(last, field), last.pk)))
    body["link"] = links
    return fhir_response(body)


def caller_orgs(request: HttpRequest, rtype: str, letter: str) -> tuple[Caller, scoped.Orgs]:
    caller = authenticate(request, anonymous_ok=True)
    return caller, caller.organizations(rtype, letter)
