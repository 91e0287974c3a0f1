"""`manage.py audit_verify [--seal]`: exit 0 if the audit trail is intact, 1 and a list of problems otherwise."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from creneau.audit.services import audit_seal
from creneau.audit.verify import audit_verify


class Command(BaseCommand):
    help = (
        "Verify the audit trail: seals, writers' MACs and database roles, and the chain against the heads "
        "published to every anchor sink."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seal",
            action="store_true",
            help="Seal pending events first (by default verification only reads, so a stalled sealer shows).",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["seal"]:
            audit_seal()
        problems = audit_verify()
        if problems:
            for p in problems:
                self.stderr.write(str(p))
            raise CommandError(f"audit trail: {len(problems)} problem(s) found")
        self.stdout.write(self.style.SUCCESS("audit trail intact"))
