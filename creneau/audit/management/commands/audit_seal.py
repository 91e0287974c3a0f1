"""`manage.py audit_seal [--checkpoint]`: chain new audit events; optionally sign a checkpoint."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from creneau.audit.services import audit_checkpoint, audit_seal


class Command(BaseCommand):
    help = "Seal new audit events into the hash chain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--checkpoint", action="store_true", help="Also sign a checkpoint of the tail.")

    def handle(self, *args: Any, **opts: Any) -> None:
        n = audit_seal()
        msg = f"{n} events sealed"
        if opts["checkpoint"]:
            cp = audit_checkpoint()
            msg += f"; checkpoint at seq {cp.seq}" if cp else "; nothing to checkpoint"
        self.stdout.write(msg)
