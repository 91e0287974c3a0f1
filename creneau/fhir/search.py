"""Exact search: only what the CapabilityStatement lists is applied, nothing is silently ignored.

Before a search handler runs, its query (the URL's, or the form body of `POST [type]/_search`) is
checked against `capabilities.RESOURCES`: parameter names with their modifier or chain, and the
values of the result parameters (`_include`, `_revinclude`, `_sort`, `_summary`, `_total`). Anything
else is refused with a 400 OperationOutcome under `Prefer: handling=strict`; under the default
lenient handling it is dropped from the query the handler sees (so from the self link too) and the
Bundle carries an OperationOutcome warning (search mode `outcome`). The warning names a dropped
parameter only when the name is plain ASCII: client input is never echoed raw."""

from __future__ import annotations

import functools
import re
from typing import Any

from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _

from .capabilities import COMMON_SEARCH, RESOURCES
from .http import FhirError
from .mappers.common import model_class

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_RESULT_VALUES = {"_summary": {"count", "false"}, "_total": {"none", "estimate", "accurate"}}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
IGNORED_ATTR = "fhir_ignored"
MAX_OR_VALUES = 100


def strict(request: HttpRequest) -> bool:
    prefer = request.META.get("HTTP_PREFER", "")
    return any(part.strip().lower() == "handling=strict" for part in prefer.split(","))


def accepted_keys(rtype: str) -> set[str]:
    spec = RESOURCES[rtype]
    keys = set(spec["search"]) | set(COMMON_SEARCH) | set(spec.get("chains", {}))
    if spec.get("include"):
        keys.add("_include")
    if spec.get("include_iterate"):
        keys.add("_include:iterate")
    if spec.get("revinclude"):
        keys.add("_revinclude")
    if spec.get("sort"):
        keys.add("_sort")
    return keys


def _value_ok(rtype: str, key: str, value: str) -> bool:
    spec = RESOURCES[rtype]
    if key in _RESULT_VALUES:
        return value in _RESULT_VALUES[key]
    if key == "_include":
        return value in spec.get("include", [])
    if key == "_include:iterate":
        return value in spec.get("include_iterate", [])
    if key == "_revinclude":
        return value in spec.get("revinclude", [])
    if key == "_sort":
        allowed = spec.get("sort", [])
        return all(part in allowed for part in value.split(","))
    return value.count(",") < MAX_OR_VALUES


def safe_name(name: str) -> str | None:
    return name if _SAFE_NAME.match(name) else None


def restrict(request: HttpRequest, rtype: str, source: QueryDict) -> None:
    """Replace `request.GET` with the applied part of `source`; remember what was dropped."""
    keys = accepted_keys(rtype)
    kept = QueryDict(mutable=True)
    dropped: list[str | None] = []
    for name in source:
        for value in source.getlist(name):
            if _CONTROL.search(name) or _CONTROL.search(value):
                raise FhirError(400, _("A search parameter contains control characters."))
            if value == "":
                continue  # an empty value filters nothing: not applied, nothing to report
            if name in keys and _value_ok(rtype, name, value):
                kept.appendlist(name, value)
            else:
                dropped.append(safe_name(name))
    if dropped and strict(request):
        raise FhirError(400, unsupported_message(dropped))
    kept._mutable = False
    request.GET = kept  # type: ignore[assignment]
    setattr(request, IGNORED_ATTR, dropped)


def restrict_to_supported(query: QueryDict, rtype: str) -> None:
    """A condition (`If-None-Exist`) must use supported search parameters only: 400 otherwise."""
    keys = accepted_keys(rtype)
    for name in query:
        for value in query.getlist(name):
            if _CONTROL.search(name) or _CONTROL.search(value):
                raise FhirError(400, _("A search parameter contains control characters."))
            if name not in keys or not _value_ok(rtype, name, value):
                raise FhirError(400, unsupported_message([safe_name(name)]))


def unsupported_message(names: list[str | None]) -> str:
    shown = sorted({n for n in names if n})
    if shown:
        return _("Unsupported search parameter, modifier or value: %(names)s.") % {"names": ", ".join(shown)}
    return _("Unsupported search parameter, modifier or value.")


def outcome_entry(request: HttpRequest) -> dict[str, Any] | None:
    """The Bundle entry warning that some parameters were not applied (None when all were)."""
    dropped = getattr(request, IGNORED_ATTR, None)
    if not dropped:
        return None
    issues = []
    for name in sorted({n or "" for n in dropped}):
        issue: dict[str, Any] = {
            "severity": "warning",
            "code": "not-supported",
            "details": {"coding": [{"system": REASON_SYSTEM, "code": "search-parameter-ignored"}]},
            "diagnostics": unsupported_message([name or None]) + " " + _("It was not applied."),
        }
        if name:
            issue["expression"] = [name]
        issues.append(issue)
    return {"resource": {"resourceType": "OperationOutcome", "issue": issues}, "search": {"mode": "outcome"}}


REASON_SYSTEM = "https://creneau.fr/fhir/CodeSystem/refusal-reason"


def elements(query: QueryDict) -> set[str] | None:
    wanted = [e.strip() for v in query.getlist("_elements") for e in v.split(",") if e.strip()]
    return set(wanted) if wanted else None


@functools.cache
def mandatory_elements(resource_type: str) -> frozenset[str]:
    """Top-level elements of a type with a minimum cardinality of 1, read from the R4(B) model."""
    fields = model_class(resource_type).model_fields.values()
    return frozenset(
        str(field.alias)
        for field in fields
        if field.alias
        and (
            field.is_required()
            or (isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("element_required"))
        )
    )


def subset(resource: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    """`_elements`: the listed top-level elements plus the mandatory ones, tagged SUBSETTED."""
    always = {"resourceType", "id", "meta", *mandatory_elements(resource["resourceType"])}
    out = {k: v for k, v in resource.items() if k in keep or k in always}
    meta = dict(out.get("meta", {}))
    tag = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
    meta["tag"] = [*meta.get("tag", []), tag]
    out["meta"] = meta
    return out
