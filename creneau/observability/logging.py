"""JSON log lines with the request's id, and nothing personal.

`JsonFormatter` writes one JSON object per record: time, level, logger, message, the request id of the
request being served (set by `RequestObservabilityMiddleware`, also in the `X-Request-ID` response
header) and only the extra fields listed in `FIELDS`, which carry codes and numbers. Defence in depth
for messages written elsewhere: Django's request loggers lose the path they append (paths hold ids), and
e-mail addresses, UUIDs, phone numbers and long digit runs (NIR, INS) in any message are masked.
Exceptions are logged as their type and stack frames (file, line, function), without their message,
which may quote a value (a database error's DETAIL line does)."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import traceback
from typing import Any

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("creneau_request_id", default="")

# Extra fields a record may carry into the line (`logger.info(..., extra={...})`): codes and numbers only.
FIELDS = (
    "request_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "principal_kind",
    "channel",
    "event",
    "task",
    "queue",
    "count",
    "attempts",
    "reason",
)

_MASKS = [
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b"), "<id>"),
    # French and international phone numbers (+33 6 12 34 56 78, 06.12.34.56.78, 0612345678).
    (re.compile(r"(?:(?:\+|00)\d{2}[\s.-]?|\b0)[1-9](?:[\s.-]?\d{2}){4}\b"), "<phone>"),
    (re.compile(r"\b\d{11,}\b"), "<number>"),
]
# Loggers whose message ends with the request path ("Not Found: /patients/<id>/").
_PATH_LOGGERS = ("django.request", "django.server", "django.security")


def mask(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if record.name.startswith(_PATH_LOGGERS):
            # Django writes "%s: %s" % (reason, path): keep the reason ("Not Found"), drop the path.
            args = record.args if isinstance(record.args, tuple) else ()
            message = str(args[0]) if args else str(record.msg).split(":", 1)[0]
        else:
            message = record.getMessage()
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": mask(message),
        }
        current = request_id.get()
        if current:
            line["request_id"] = current
        for field in FIELDS:
            value = record.__dict__.get(field)
            if value is not None and value != "":
                line[field] = value if isinstance(value, int | float) else mask(str(value))
        status = record.__dict__.get("status_code")
        if isinstance(status, int) and "status" not in line:
            line["status"] = status
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__
            line["exc_frames"] = [
                f"{frame.filename.rsplit('/site-packages/', 1)[-1]}:{frame.lineno} in {frame.name}"
                for frame in traceback.extract_tb(record.exc_info[2])
            ][-12:]
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(JsonFormatter):
    """The same fields, masked the same way, as `key=value` text for a developer's terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = json.loads(super().format(record))
        head = f"{line.pop('ts')} {line.pop('level')} {line.pop('logger')} {line.pop('msg')}"
        return " ".join([head, *(f"{key}={value}" for key, value in line.items())])
