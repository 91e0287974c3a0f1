"""`manage.py audit_seal [--checkpoint]`: chain new audit events and publish the new head."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from creneau.audit.services import audit_checkpoint, audit_seal


class Command(BaseCommand):
    help = "Seal new audit events into the keyed chain and publish the signed head to the anchor sinks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoint", action="store_true", help="Publish the head again even if it was already published."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["checkpoint"]:
            n = audit_seal(publish=False)
            cp = audit_checkpoint()
            msg = f"{n} events sealed" + (f"; head published at seq {cp.seq}" if cp else "; nothing published")
        else:
            msg = f"{audit_seal()} events sealed"
        self.stdout.write(msg)
