"""`manage.py audit_anchor_check --public-key B64 --source FILE-or-URL`: an auditor's check of the
published chain heads, with the public key only: no database, no secret.

Reports heads that are not signed by the given keys, and two signed heads that disagree about the same
position of the chain (which would mean the trail was rewritten and the signing key used to hide it).
Prints the newest head, which the auditor can keep and later compare with what the operator shows."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from creneau.audit import anchors
from creneau.audit.keys import load_public_key, verify_signature


class Command(BaseCommand):
    help = "Verify published audit chain heads with only the Ed25519 public key (no database access)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--public-key", action="append", required=True, help="base64 Ed25519 public key")
        parser.add_argument("--source", action="append", required=True, help="a head file, or an HTTP log URL")
        parser.add_argument("--token", default="", help="bearer token of the HTTP log, if it asks for one")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            trusted = dict(load_public_key(k) for k in opts["public_key"])
        except Exception as exc:
            raise CommandError(str(exc)) from exc
        problems: list[str] = []
        by_seq: dict[int, str] = {}
        newest: anchors.Head | None = None
        count = 0
        for source in opts["source"]:
            sink: anchors.Sink = (
                anchors.HttpLogSink(url=source, token=opts["token"])
                if source.startswith(("http://", "https://"))
                else anchors.FileSink(path=source)
            )
            try:
                lines = list(sink.read())
            except anchors.SinkError as exc:
                raise CommandError(f"cannot read {sink.name}: {exc}") from exc
            for n, line in enumerate(lines, 1):
                head = anchors.parse_line(line)
                if head is None:
                    continue
                count += 1
                if not verify_signature(trusted, head.kid, head.sig, head.message()):
                    problems.append(f"{sink.name} line {n}: not signed by the given key(s)")
                    continue
                if by_seq.setdefault(head.seq, head.hash) != head.hash:
                    problems.append(f"{sink.name} line {n}: a second, different head for seq {head.seq}")
                if newest is None or head.seq > newest.seq:
                    newest = head
        if problems:
            for p in problems:
                self.stderr.write(p)
            raise CommandError(f"published heads: {len(problems)} problem(s) in {count} heads")
        if newest is None:
            raise CommandError("no signed head found")
        self.stdout.write(
            self.style.SUCCESS(f"{count} heads, all signed; newest: seq {newest.seq} hash {newest.hash} at {newest.at}")
        )
