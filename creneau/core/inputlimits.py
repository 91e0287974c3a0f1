"""Input limits for every request, in one middleware rather than in each view.

- A body larger than `CRENEAU_MAX_BODY_BYTES` (announced by Content-Length) is refused with 413 before
  it is read; Django's own DATA_UPLOAD_MAX_MEMORY_SIZE, set to the same value, catches bodies sent
  without a length.
- JSON bodies nested deeper than `CRENEAU_MAX_JSON_DEPTH` are refused with 400 (a deep enough document
  exhausts a parser's recursion: that used to be a 500).
- Control characters (NUL and the other C0 controls except tab, line feed and carriage return, and
  DEL) in a query, form or JSON value or name are refused with 400 naming the parameter: no legitimate
  input holds them, and they confuse what stores, logs or compares text.

Under /fhir/ the answers are OperationOutcomes; elsewhere a short page. Messages name the field, never
its value (which may be personal data). The middleware runs before sessions and authentication: a
refused request costs no database query."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.multipartparser import MultiPartParserError
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from . import outcomes

CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def max_body_bytes() -> int:
    return int(getattr(settings, "CRENEAU_MAX_BODY_BYTES", 1024 * 1024))


# The one upload: a practitioner's photo (web:staff_photo), allowed CRENEAU_PHOTO_MAX_BYTES plus the form.
PHOTO_UPLOAD_PATH = re.compile(r"^/(?:[a-z]{2}/)?practice/agenda/[^/]+/photo/$")
FORM_OVERHEAD = 64 * 1024


def _photo_upload(request: HttpRequest) -> bool:
    return request.method == "POST" and bool(PHOTO_UPLOAD_PATH.match(request.path))


def max_json_depth() -> int:
    return int(getattr(settings, "CRENEAU_MAX_JSON_DEPTH", 32))


def _control_in(name: str, values: list[str], kind: str) -> None:
    for text in (name, *values):
        if isinstance(text, str) and CONTROL.search(text):
            shown = CONTROL.sub("?", name)[:60]
            if kind == "parameter":
                message = _(
                    "The parameter “%(name)s” contains a control character (such as NUL), which is not allowed."
                )
            elif kind == "field":
                message = _("The field “%(name)s” contains a control character (such as NUL), which is not allowed.")
            else:
                message = _(
                    "The JSON member “%(name)s” contains a control character (such as NUL), which is not allowed."
                )
            raise Refused(400, message % {"name": shown})


def _walk_json(document: Any, limit: int) -> None:
    """Depth and control characters of a parsed JSON document, iteratively (no recursion to exhaust)."""
    stack: list[tuple[Any, int, str]] = [(document, 1, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict | list) and depth > limit:
            raise Refused(400, _("The JSON body is nested too deeply (at most %(depth)s levels).") % {"depth": limit})
        items: Iterator[tuple[str, Any]]
        if isinstance(node, dict):
            items = ((str(k), v) for k, v in node.items())
            for key, value in items:
                child = f"{path}.{key}" if path else key
                _control_in(child, [], "json")
                stack.append((value, depth + 1, child))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                stack.append((value, depth + 1, f"{path}[{index}]"))
        elif isinstance(node, str) and CONTROL.search(node):
            _control_in(path or "$", [node], "json")


def check(request: HttpRequest) -> None:
    """Raise Refused if the request breaks a limit."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refused(400, _("The Content-Length header is not a number.")) from None
    limit = max_body_bytes()
    if _photo_upload(request):
        photo = int(getattr(settings, "CRENEAU_PHOTO_MAX_BYTES", limit))
        if length > photo + FORM_OVERHEAD:
            raise Refused(
                413, _("This file is too large: a photo has at most %(mb)d MB.") % {"mb": photo // (1024 * 1024)}
            )
    elif length > limit:
        raise Refused(413, _("The request body is too large (at most %(kb)s KB).") % {"kb": limit // 1024})
    for name in request.GET:
        _control_in(name, request.GET.getlist(name), "parameter")
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    content_type = (request.content_type or "").lower()
    if content_type in FORM_TYPES:
        try:
            form = request.POST
        except RequestDataTooBig:
            raise Refused(
                413, _("The request body is too large (at most %(kb)s KB).") % {"kb": limit // 1024}
            ) from None
        except MultiPartParserError:
            return  # malformed: the view answers in its own terms
        for name in form:
            _control_in(name, form.getlist(name), "field")
    elif content_type.endswith("json"):
        try:
            document = json.loads(request.body)
        except RecursionError:
            raise Refused(
                400, _("The JSON body is nested too deeply (at most %(depth)s levels).") % {"depth": max_json_depth()}
            ) from None
        except ValueError:
            return  # not JSON: the view says so in its own terms
        _walk_json(document, max_json_depth())


def refusal(request: HttpRequest, status: int, message: str) -> HttpResponse:
    if request.path.startswith("/fhir/"):
        reason = {413: "request-too-large"}.get(status, "invalid-input")
        body = outcomes.refusal_body(status, message, reason=reason)
        response = HttpResponse(
            json.dumps(body, ensure_ascii=False), status=status, content_type="application/fhir+json; charset=utf-8"
        )
    else:
        response = HttpResponse(
            f'<!doctype html><meta charset="utf-8"><title>{status}</title><p role="alert">{escape(message)}</p>',
            status=status,
        )
    if status == 413:
        response["Connection"] = "close"  # the body was not read
    return response


class InputLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # Before LocaleMiddleware: answer in the language the client asks for.
        language = (
            outcomes.negotiated_language(request)
            if request.path.startswith("/fhir/")
            else translation.get_language_from_request(request)
        )
        with translation.override(language):
            try:
                check(request)
            except Refused as exc:
                return refusal(request, exc.status, exc.message)
        return self.get_response(request)
