"""JSON Patch (RFC 6902) applied to a resource's JSON, for `PATCH [type]/[id]` with
`Content-Type: application/json-patch+json`. Which paths a patch may change is the caller's rule (an
Appointment: its status and its time); `test` may look at any path. Errors never echo the values sent."""

from __future__ import annotations

import copy
import json
from typing import Any

from django.utils.translation import gettext as _

from .http import JSON_PATCH, FhirError

__all__ = ["JSON_PATCH", "apply", "read_patch"]
MAX_OPERATIONS = 20
_OPS = {"add", "remove", "replace", "move", "copy", "test"}


def read_patch(body: bytes) -> list[dict[str, Any]]:
    """The operations of a JSON Patch document, checked for shape (400 otherwise)."""
    if len(body) > 64 * 1024:
        raise FhirError(413, _("The request body is too large."))
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise FhirError(400, _("The request body is not valid JSON.")) from None
    if not isinstance(doc, list) or not doc:
        raise FhirError(400, _("A JSON Patch is a non-empty array of operations."))
    if len(doc) > MAX_OPERATIONS:
        raise FhirError(400, _("A JSON Patch has at most %(n)d operations.") % {"n": MAX_OPERATIONS})
    for op in doc:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str) or str(op.get("op")) not in _OPS:
            raise FhirError(400, _("Each JSON Patch operation needs a known op and a path."))
        if op["op"] in ("add", "replace", "test") and "value" not in op:
            raise FhirError(400, _("This JSON Patch operation needs a value."))
        if op["op"] in ("move", "copy") and not isinstance(op.get("from"), str):
            raise FhirError(400, _("This JSON Patch operation needs a from path."))
    return doc


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise FhirError(400, _("A JSON Patch path starts with a slash."))
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    if not parts:
        raise FhirError(422, _("A JSON Patch cannot replace the whole resource."))
    node = doc
    for part in parts[:-1]:
        node = _child(node, part)
    return node, parts[-1]


def _child(node: Any, part: str) -> Any:
    try:
        if isinstance(node, list):
            return node[int(part)]
        if isinstance(node, dict):
            return node[part]
    except (ValueError, IndexError, KeyError):
        pass
    raise FhirError(422, _("A JSON Patch path does not exist in the resource."))


def _get(doc: Any, path: str) -> Any:
    node = doc
    for part in _pointer(path):
        node = _child(node, part)
    return node


def apply(resource: dict[str, Any], operations: list[dict[str, Any]], writable: set[str]) -> dict[str, Any]:
    """The resource with the patch applied. An operation changing a path outside `writable` (top-level
    element paths such as "/status") is a 422; a failing `test` is a 422 and nothing is applied."""
    doc = copy.deepcopy(resource)
    for op in operations:
        kind = op["op"]
        if kind == "test":
            if _get(doc, op["path"]) != op["value"]:
                raise FhirError(422, _("A JSON Patch test failed: the resource has another value there."))
            continue
        targets = [op["path"]] + ([op["from"]] if kind == "move" else [])
        if any(t not in writable for t in targets):
            raise FhirError(
                422,
                _("A JSON Patch may change only these elements: %(paths)s.") % {"paths": ", ".join(sorted(writable))},
            )
        parent, key = _parent(doc, _pointer(op["path"]))
        if not isinstance(parent, dict):
            raise FhirError(422, _("A JSON Patch path does not exist in the resource."))
        if kind == "remove":
            if key not in parent:
                raise FhirError(422, _("A JSON Patch path does not exist in the resource."))
            del parent[key]
        elif kind in ("add", "replace"):
            if kind == "replace" and key not in parent:
                raise FhirError(422, _("A JSON Patch path does not exist in the resource."))
            parent[key] = copy.deepcopy(op["value"])
        else:  # move / copy between writable elements
            value = copy.deepcopy(_get(doc, op["from"]))
            if kind == "move":
                source, skey = _parent(doc, _pointer(op["from"]))
                del source[skey]
            parent[key] = value
    return doc
