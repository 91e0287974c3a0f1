"""Parsing FHIR search parameters: dates with prefixes, tokens, references, paging."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from typing import Any

from django.conf import settings
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _

from . import search
from .http import FhirError

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
_DATE = re.compile(r"^(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb|ap)?(?P<value>\d{4}(-\d{2}(-\d{2}(T.+)?)?)?)$")
DEFAULT_COUNT = 20
# Dates outside these years are refused: nothing is scheduled there, and date arithmetic stays safe.
MIN_YEAR, MAX_YEAR = 1900, 2999


@dataclasses.dataclass(frozen=True)
class DateBound:
    """`prefix` applied to the implicit range [lo, hi) of the value's precision."""

    prefix: str
    lo: dt.datetime
    hi: dt.datetime

    def filters(self, field: str) -> dict[str, dt.datetime]:
        match self.prefix:
            case "eq":
                return {f"{field}__gte": self.lo, f"{field}__lt": self.hi}
            case "ge":
                return {f"{field}__gte": self.lo}
            case "gt" | "sa":
                return {f"{field}__gte": self.hi}
            case "le":
                return {f"{field}__lt": self.hi}
            case _:  # lt, eb
                return {f"{field}__lt": self.lo}

    def accepts(self, moment: dt.datetime) -> bool:
        match self.prefix:
            case "eq":
                return self.lo <= moment < self.hi
            case "ge":
                return moment >= self.lo
            case "gt" | "sa":
                return moment >= self.hi
            case "le":
                return moment < self.hi
            case _:
                return moment < self.lo


def parse_date(name: str, raw: str) -> DateBound:
    """`ge2026-03-02`, `lt2026-03-02T10:00:00+01:00`, `2026-03`… Dates without a zone are read in
    Europe/Paris, the platform's default site time zone."""
    m = _DATE.match(raw.strip())
    if m is None:
        raise FhirError(400, _("Invalid date in parameter %(name)s.") % {"name": name})
    prefix = m["prefix"] or "eq"
    if prefix in ("ne", "ap"):
        raise FhirError(400, _("The prefix %(prefix)s is not supported.") % {"prefix": prefix})
    value = m["value"]
    try:
        if "T" in value:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=PARIS)
            lo = moment.astimezone(dt.UTC)
            hi = lo + dt.timedelta(seconds=1)
        elif len(value) == 4:
            lo = dt.datetime(int(value), 1, 1, tzinfo=PARIS)
            hi = lo.replace(year=lo.year + 1)
        elif len(value) == 7:
            y, mo = int(value[:4]), int(value[5:7])
            lo = dt.datetime(y, mo, 1, tzinfo=PARIS)
            hi = dt.datetime(y + mo // 12, mo % 12 + 1, 1, tzinfo=PARIS)
        else:
            day = dt.date.fromisoformat(value)
            lo = dt.datetime.combine(day, dt.time(), tzinfo=PARIS)
            hi = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=PARIS)
    except (ValueError, OverflowError):
        raise FhirError(400, _("Invalid date in parameter %(name)s.") % {"name": name}) from None
    if not (lo.year >= MIN_YEAR and hi.year <= MAX_YEAR):
        raise FhirError(400, _("The date in parameter %(name)s is out of range.") % {"name": name})
    return DateBound(prefix, lo.astimezone(dt.UTC), hi.astimezone(dt.UTC))


def dates(query: QueryDict, name: str) -> list[DateBound]:
    return [parse_date(name, v) for v in query.getlist(name) if v]


def token(raw: str) -> tuple[str | None, str]:
    """`system|code`, `|code` or `code` → (system or None, code)."""
    if "|" in raw:
        system, code = raw.split("|", 1)
        return system, code
    return None, raw


def tokens(query: QueryDict, name: str) -> list[tuple[str | None, str]]:
    """Repeated parameters AND, comma-separated values OR; here we flatten ORs of one parameter."""
    out: list[tuple[str | None, str]] = []
    for v in query.getlist(name):
        out += [token(part) for part in v.split(",") if part]
    return out


def reference_ids(query: QueryDict, name: str, resource_type: str) -> list[str]:
    """`Practitioner/abc`, a full URL ending in it, or a bare `abc` → ['abc']. Another type → 400."""
    out: list[str] = []
    for v in query.getlist(name):
        for part in v.split(","):
            if not part:
                continue
            segments = part.rstrip("/").split("/")
            if len(segments) >= 2:
                if segments[-2] != resource_type:
                    raise FhirError(
                        400,
                        _("Parameter %(name)s expects a %(type)s reference.") % {"name": name, "type": resource_type},
                    )
                out.append(segments[-1])
            else:
                out.append(part)
    return out


def typed_references(query: QueryDict, name: str) -> list[tuple[str | None, str]]:
    """`Type/id`, a full URL ending in it, or a bare id → (type or None, id), comma values flattened."""
    out: list[tuple[str | None, str]] = []
    for v in query.getlist(name):
        for part in v.split(","):
            segments = part.rstrip("/").split("/")
            if len(segments) >= 2:
                out.append((segments[-2], segments[-1]))
            elif part:
                out.append((None, part))
    return out


def sort_fields(query: QueryDict, fields: dict[str, str]) -> list[str]:
    """`_sort=a,-b` → ORM order_by terms, given FHIR name → model field."""
    out: list[str] = []
    for v in query.getlist("_sort"):
        for part in v.split(","):
            desc = part.startswith("-")
            field = fields.get(part.lstrip("-"))
            if field:
                out.append(("-" if desc else "") + field)
    return out


def _int(query: QueryDict, name: str, default: int) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise FhirError(400, _("Parameter %(name)s must be a whole number.") % {"name": name}) from None
    if value < 0:
        raise FhirError(400, _("Parameter %(name)s cannot be negative.") % {"name": name})
    return value


@dataclasses.dataclass(frozen=True)
class Page:
    count: int
    offset: int


def page(query: QueryDict) -> Page:
    """`_count` (capped by CRENEAU_FHIR_MAX_COUNT) and `_offset`."""
    count = min(_int(query, "_count", DEFAULT_COUNT), settings.CRENEAU_FHIR_MAX_COUNT)
    offset = min(_int(query, "_offset", 0), 1_000_000)
    return Page(count, offset)


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/fhir/R4/")


def bundle(
    request: HttpRequest,
    resource_type: str,
    resources: list[dict[str, Any]],
    *,
    total: int,
    pg: Page,
    included: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A searchset Bundle with self/first/next/previous links that keep the applied parameters (the
    query the handler saw: see `search.restrict`), `included` resources (search mode include), an
    OperationOutcome entry for what was not applied, `_summary=count` and `_elements` honoured."""
    base = base_url(request)
    query = request.GET.copy()

    def link(relation: str, offset: int) -> dict[str, str]:
        q = query.copy()
        q["_count"] = str(pg.count)
        q["_offset"] = str(offset)
        return {"relation": relation, "url": f"{base}{resource_type}?{q.urlencode()}"}

    count_only = query.get("_summary") == "count"
    links = [link("self", pg.offset)]
    if not count_only:
        links.append(link("first", 0))
        if pg.offset + pg.count < total and pg.count > 0:
            links.append(link("next", pg.offset + pg.count))
        if pg.offset > 0:
            links.append(link("previous", max(0, pg.offset - pg.count)))
    keep = search.elements(query)
    entries: list[dict[str, Any]] = []
    if not count_only:
        seen: set[tuple[str, str]] = set()
        for mode, group in (("match", resources), ("include", included or [])):
            for r in group:
                if (r["resourceType"], r["id"]) in seen:
                    continue
                seen.add((r["resourceType"], r["id"]))
                shown = search.subset(r, keep) if keep is not None and mode == "match" else r
                entries.append(
                    {"fullUrl": f"{base}{r['resourceType']}/{r['id']}", "resource": shown, "search": {"mode": mode}}
                )
    if (warning := search.outcome_entry(request)) is not None:
        entries.append(warning)
    body: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links}
    if entries:
        body["entry"] = entries
    return body
