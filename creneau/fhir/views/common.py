"""Helpers every FHIR resource view shares: scoping the caller, parsing ids and codes, paging."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from .. import params
from .. import selectors as scoped
from ..http import Caller, authenticate, fhir_response


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


def caller_orgs(request: HttpRequest, rtype: str, letter: str) -> tuple[Caller, scoped.Orgs]:
    caller = authenticate(request, anonymous_ok=True)
    return caller, caller.organizations(rtype, letter)
