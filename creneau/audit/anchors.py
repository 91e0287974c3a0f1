"""Publishing the chain head off the database host, at every seal.

A *head* says "the audit chain had `seq` seals, the last one `hash`, at `at`", signed with the Ed25519
key (`CRENEAU_AUDIT_SIGNING_KEY`). Heads are appended to every configured sink
(`CRENEAU_AUDIT_ANCHOR_SINKS`); `audit_verify` reads them all back and compares them with the chain, so
a trail that is shorter than a published head, or differs from it, is reported even when the database
and the local file were both rewritten. Only the public key is needed to check a head
(`manage.py audit_anchor_check`), so an auditor can hold it without being able to forge one.

A sink is a class with `publish(line: str)` and `read() -> Iterable[str]`. Two are built in:

- `FileSink`: appends to a local file (development; in production a second copy only).
- `HttpLogSink`: `POST url` with one head as JSON (bearer token), `GET url` returns every head, one JSON
  object a line. `deploy/anchor_log_server.py` is such a log, to run on another machine over storage
  that only appends. A syslog forwarder or an object store with a retention lock fit the same two
  methods.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from . import keys

logger = logging.getLogger("creneau.audit")
# 2: the head names its trail (the hash of the chain's first seal), so a head published for another
# database (recreated, or a copy) is told apart from a truncation of this one. 1: heads without it.
VERSION = 2


class SinkError(Exception):
    """A sink could not be written or read."""


@dataclasses.dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    at: str  # ISO-8601, UTC
    kid: str
    sig: str = ""
    # The trail this head belongs to: the hash of its first seal ("" in version-1 heads).
    trail: str = ""

    def message(self) -> bytes:
        """The bytes the signature covers (the trail too, from version 2)."""
        if not self.trail:
            return f"creneau-audit-head/1\n{self.seq}\n{self.hash}\n{self.at}\n{self.kid}".encode()
        return f"creneau-audit-head/2\n{self.trail}\n{self.seq}\n{self.hash}\n{self.at}\n{self.kid}".encode()

    def line(self) -> str:
        data: dict[str, object] = {"v": 2 if self.trail else 1}
        if self.trail:
            data["trail"] = self.trail
        data.update({"seq": self.seq, "hash": self.hash, "at": self.at, "kid": self.kid, "sig": self.sig})
        return json.dumps(data, separators=(",", ":"))


def sign_head(seq: int, digest: str, at: dt.datetime, *, trail: str) -> Head:
    kid, private = keys.signing_key()
    head = Head(seq=seq, hash=digest, at=at.astimezone(dt.UTC).isoformat(), kid=kid, trail=trail)
    return dataclasses.replace(head, sig=base64.b64encode(private.sign(head.message())).decode())


def parse_line(line: str) -> Head | None:
    """A head from one published line; None for a line that is not one (blank, or written in the
    pre-Ed25519 format, which carried no public signature)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
        return Head(seq=int(data["seq"]), hash=str(data["hash"]), at=str(data["at"]), kid=str(data["kid"]),
                    sig=str(data["sig"]), trail=str(data.get("trail", "")))  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return Head(seq=-1, hash="", at="", kid="", sig="")  # unreadable: reported as a bad signature


class Sink(Protocol):
    name: str

    def publish(self, line: str) -> None: ...

    def read(self) -> Iterable[str]: ...


class FileSink:
    """Appends heads to a file (O_APPEND, flushed to disk before the seal is called published)."""

    def __init__(self, *, path: str) -> None:
        self.path = Path(path)
        self.name = f"file {self.path}"

    def publish(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (line + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> Iterator[str]:
        """Every line; a missing file reads as empty (verify then reports a chain with no published head)."""
        if not self.path.exists():
            return iter(())
        return iter(self.path.read_text(encoding="ascii", errors="replace").splitlines())


class HttpLogSink:
    """A remote append-only log over HTTP (see the module docstring for the protocol)."""

    def __init__(self, *, url: str, token: str = "", timeout: float = 5.0) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout
        self.name = f"http {url.split('?', 1)[0]}"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def publish(self, line: str) -> None:
        import requests

        try:
            r = requests.post(
                self.url,
                data=line.encode("ascii"),
                headers={**self._headers(), "Content-Type": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise SinkError(f"{self.name}: {type(exc).__name__}") from exc
        if r.status_code >= 300:
            raise SinkError(f"{self.name}: HTTP {r.status_code}")

    def read(self) -> Iterator[str]:
        import requests

        try:
            r = requests.get(self.url, headers=self._headers(), timeout=max(self.timeout, 30.0))
        except requests.RequestException as exc:
            raise SinkError(f"{self.name}: {type(exc).__name__}") from exc
        if r.status_code != 200:
            raise SinkError(f"{self.name}: HTTP {r.status_code}")
        return iter(r.text.splitlines())


def sink_from_config(entry: dict[str, Any]) -> Sink:
    cls = import_string(str(entry["BACKEND"]))
    sink: Sink = cls(**dict(entry.get("OPTIONS") or {}))
    return sink


def configured_sinks() -> list[Sink]:
    return [sink_from_config(e) for e in settings.CRENEAU_AUDIT_ANCHOR_SINKS]


def publish(head: Head, sinks: Iterable[Sink] | None = None) -> list[str]:
    """Append the head to every sink; returns the names of the sinks that failed (logged, retried with the
    next head: each head covers every seal before it)."""
    failed = []
    line = head.line()
    for sink in configured_sinks() if sinks is None else sinks:
        try:
            sink.publish(line)
        except (SinkError, OSError) as exc:
            logger.error("audit anchor sink failed: %s (%s)", sink.name, type(exc).__name__)
            failed.append(sink.name)
    return failed
