"""FHIR OperationOutcome bodies for refusals, wherever they are built (the FHIR views, the input limits
middleware, the unavailable answer), and the language machines get them in.

Every refusal carries a machine-readable reason in `issue.details.coding` (system `REFUSAL_SYSTEM`,
a stable code such as `rate-limited`, `suspended`, `not-found`, `too-soon`), so that a partner's
software can act on it without parsing the text. `diagnostics` is always a valid FHIR string: control
characters and unusual whitespace (which a message quoting a client-sent name could carry) are
replaced, and it is capped in length.

The language is negotiated from `Accept-Language` alone (French by default, English second), not from
the URL or a cookie: API clients do not browse."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header

REFUSAL_SYSTEM = "https://creneau.fr/fhir/CodeSystem/refusal-reason"

# FHIR R4 IssueType (http://hl7.org/fhir/issue-type): anything else is not a valid `issue.code`.
ISSUE_TYPES = frozenset(
    [
        "invalid",
        "structure",
        "required",
        "value",
        "invariant",
        "security",
        "login",
        "unknown",
        "expired",
        "forbidden",
        "suppressed",
        "processing",
        "not-supported",
        "duplicate",
        "multiple-matches",
        "not-found",
        "deleted",
        "too-long",
        "code-invalid",
        "extension",
        "too-costly",
        "business-rule",
        "conflict",
        "transient",
        "lock-error",
        "no-store",
        "exception",
        "timeout",
        "incomplete",
        "throttled",
        "informational",
    ]
)

ISSUE_BY_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "business-rule",
    429: "throttled",
    500: "exception",
    503: "transient",
}

REASON_BY_STATUS = {
    400: "invalid-request",
    401: "authentication-required",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "version-mismatch",
    413: "request-too-large",
    415: "unsupported-media-type",
    422: "business-rule",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}

MAX_DIAGNOSTICS = 1000
_REASON = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def safe_text(text: object) -> str:
    """`text` as a valid FHIR string: no control or format characters (shown as "?"), whitespace other
    than space, tab, CR and LF as a plain space, trimmed, capped."""
    out = []
    for ch in str(text):
        if ch in " \t\r\n":
            out.append(ch)
        elif ch.isspace():
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append("?")
        else:
            out.append(ch)
    cleaned = "".join(out).strip()
    if len(cleaned) > MAX_DIAGNOSTICS:
        cleaned = cleaned[: MAX_DIAGNOSTICS - 1] + "…"
    return cleaned or "?"


def issue_code(status: int, code: str | None = None) -> str:
    if code in ISSUE_TYPES:
        return str(code)
    return ISSUE_BY_STATUS.get(status, "processing" if status < 500 else "exception")


def reason_code(status: int, reason: str | None = None) -> str:
    if reason and _REASON.match(reason):
        return reason
    return REASON_BY_STATUS.get(status, "error")


def refusal_body(status: int, message: object, *, code: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """An OperationOutcome for a refusal: issue code (a valid IssueType), our reason, safe text."""
    text = safe_text(message)
    why = reason_code(status, reason)
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error" if status < 500 else "fatal",
                "code": issue_code(status, code),
                "details": {"coding": [{"system": REFUSAL_SYSTEM, "code": why}], "text": text},
                "diagnostics": text,
            }
        ],
    }


def negotiated_language(request: HttpRequest) -> str:
    """The first language of `Accept-Language` we speak (fr, en), else the default (French)."""
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    if header and len(header) <= 255:
        for lang, _q in parse_accept_lang_header(header):
            if lang == "*":
                break
            try:
                return str(get_supported_language_variant(lang))
            except LookupError:
                continue
    return str(settings.LANGUAGE_CODE)
