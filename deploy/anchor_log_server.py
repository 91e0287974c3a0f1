"""An append-only log of signed audit chain heads, to run on a machine other than the database's.

    python3 anchor_log_server.py --file /var/lib/creneau-anchors/heads.log --port 8470 \
        --public-key BASE64 [--token-file /etc/creneau-anchors/token]

- `POST /` with one head (JSON, as `creneau.audit.anchors.Head.line()`): appended (O_APPEND, fsync) if
  its Ed25519 signature verifies under one of the `--public-key`s, 201; anything else 400/401.
- `GET /`: every head, one JSON object a line (what `audit_verify` and `audit_anchor_check` read).
Nothing can be changed or removed through it. Make the file itself append-only (`chattr +a`, or a
WORM/retention-locked volume) and back it up; give creneau a token that can only POST.

Standard library and `cryptography` only: an auditor can run it, or read its file, without creneau.
Serve it behind TLS (a reverse proxy) outside a private network."""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MAX_BODY = 4096


def key_id(raw: bytes) -> str:
    import hashlib

    return hashlib.sha256(raw).hexdigest()[:16]


def head_message(h: dict[str, object]) -> bytes:
    """The bytes a head's signature covers (creneau.audit.anchors.Head.message)."""
    if h.get("v") == 2:
        return f"creneau-audit-head/2\n{h['trail']}\n{h['seq']}\n{h['hash']}\n{h['at']}\n{h['kid']}".encode()
    return f"creneau-audit-head/1\n{h['seq']}\n{h['hash']}\n{h['at']}\n{h['kid']}".encode()


class Log:
    def __init__(self, path: Path, public_keys: list[str], token: str) -> None:
        self.path = path
        self.token = token
        self.keys = {}
        for text in public_keys:
            raw = base64.b64decode(text, validate=True)
            self.keys[key_id(raw)] = Ed25519PublicKey.from_public_bytes(raw)
        self.lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def accept(self, body: bytes) -> bool:
        try:
            h = json.loads(body)
            key = self.keys[str(h["kid"])]
            key.verify(base64.b64decode(str(h["sig"]), validate=True), head_message(h))
            line = json.dumps(h, separators=(",", ":")).encode("ascii") + b"\n"
        except (ValueError, KeyError, TypeError, InvalidSignature):
            return False
        with self.lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        return True

    def read(self) -> bytes:
        return self.path.read_bytes() if self.path.exists() else b""


def handler_for(log: Log) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _authorized(self) -> bool:
            if not log.token:
                return True
            given = self.headers.get("Authorization", "").removeprefix("Bearer ")
            return hmac.compare_digest(given.encode(), log.token.encode())

        def _reply(self, status: int, body: bytes = b"", kind: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if not self._authorized():
                return self._reply(401)
            self._reply(200, log.read(), "application/x-ndjson")

        def do_POST(self) -> None:
            if not self._authorized():
                return self._reply(401)
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                return self._reply(400)
            self._reply(201 if log.accept(self.rfile.read(length)) else 400)

        def log_message(self, format: str, *args: object) -> None:  # quiet: the file is the record
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--file", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8470)
    parser.add_argument("--public-key", action="append", required=True)
    parser.add_argument("--token-file", default="")
    args = parser.parse_args()
    token = Path(args.token_file).read_text().strip() if args.token_file else os.environ.get("ANCHOR_LOG_TOKEN", "")
    log = Log(Path(args.file), args.public_key, token)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(log))
    print(f"anchor log on {args.host}:{args.port}, file {args.file}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
