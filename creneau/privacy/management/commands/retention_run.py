"""`manage.py retention_run [--dry-run]`: apply the retention rules (run daily)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from creneau.privacy.retention import retention_run


class Command(BaseCommand):
    help = "Anonymize patients past their retention period and delete stale holds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        result = retention_run(dry_run=opts["dry_run"])
        prefix = "would be " if opts["dry_run"] else ""
        self.stdout.write(
            ", ".join(f"{v} {k.replace('_', ' ').replace(' ', f' {prefix}', 1)}" for k, v in result.items())
        )
