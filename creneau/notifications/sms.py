"""Pluggable SMS backends, chosen by `CRENEAU_SMS_BACKEND` (dotted path).

Every backend receives the outbox message id and must treat it as an idempotency key: sending the
same id twice delivers at most one SMS. The file backend gets that from one file per id, the HTTP
gateway adapter from the `Idempotency-Key` header that the gateway deduplicates on."""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.error
import urllib.request
from functools import cache
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class SendError(Exception):
    """The channel refused or failed. `permanent` errors are not retried."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class SmsBackend(Protocol):
    idempotent: bool

    def send(self, *, message_id: str, to: str, text: str) -> str:
        """Send `text` to `to`; return the provider's id for the message."""


class ConsoleSmsBackend:
    """Development: print the SMS to stdout (the terminal running the worker)."""

    idempotent = False

    def send(self, *, message_id: str, to: str, text: str) -> str:
        sys.stdout.write(f"--- SMS {message_id} to {to}\n{text}\n")
        sys.stdout.flush()
        return message_id


class FileSmsBackend:
    """Development default: one file per message in `CRENEAU_SMS_FILE_DIR`; resending overwrites."""

    idempotent = True

    def send(self, *, message_id: str, to: str, text: str) -> str:
        directory = Path(settings.CRENEAU_SMS_FILE_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{message_id}.tmp"
        tmp.write_text(f"To: {to}\n\n{text}\n", encoding="utf-8")
        os.replace(tmp, directory / f"{message_id}.txt")
        return message_id


class LocmemSmsBackend:
    """Tests: keeps what was sent in memory, deduplicated on the message id like a real gateway."""

    idempotent = True
    outbox: dict[str, tuple[str, str]] = {}
    calls: list[str] = []
    _lock = threading.Lock()

    def send(self, *, message_id: str, to: str, text: str) -> str:
        with self._lock:
            self.calls.append(message_id)
            self.outbox.setdefault(message_id, (to, text))
        return message_id

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls.outbox.clear()
            cls.calls.clear()


class HttpGatewaySmsBackend:
    """A JSON-over-HTTPS SMS gateway (the common shape of French SMS providers' REST APIs):

    POST {CRENEAU_SMS_GATEWAY_URL} with `Authorization: Bearer <token>`, `Idempotency-Key: <message id>`
    and body {"to", "text", "sender"}; a 2xx answer carries {"id": ...}. 4xx (except 408/429) are
    permanent refusals; other errors and timeouts are retried by the outbox."""

    idempotent = True

    def send(self, *, message_id: str, to: str, text: str) -> str:
        payload = json.dumps({"to": to, "text": text, "sender": settings.CRENEAU_SMS_SENDER}).encode()
        request = urllib.request.Request(  # noqa: S310 (the URL is operator configuration, https in prod)
            settings.CRENEAU_SMS_GATEWAY_URL,
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {settings.CRENEAU_SMS_GATEWAY_TOKEN}",
                "Idempotency-Key": message_id,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.CRENEAU_SMS_GATEWAY_TIMEOUT) as response:  # noqa: S310
                body = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            raise SendError(f"gateway HTTP {exc.code}", permanent=permanent) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SendError(f"gateway unreachable ({type(exc).__name__})") from None
        except ValueError:
            raise SendError("gateway answered non-JSON") from None
        return str(body.get("id", ""))[:120]


@cache
def _backend_class(path: str) -> type:
    cls: type = import_string(path)
    return cls


def sms_backend() -> SmsBackend:
    backend: SmsBackend = _backend_class(settings.CRENEAU_SMS_BACKEND)()
    return backend
