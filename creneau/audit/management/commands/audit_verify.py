"""`manage.py audit_verify`: exit 0 if the audit trail is intact, 1 and a list of problems otherwise."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from creneau.audit.services import audit_seal
from creneau.audit.verify import audit_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and signed checkpoints."

    def handle(self, *args: Any, **opts: Any) -> None:
        audit_seal()
        problems = audit_verify()
        if problems:
            for p in problems:
                self.stderr.write(str(p))
            raise CommandError(f"audit trail: {len(problems)} problem(s) found")
        self.stdout.write(self.style.SUCCESS("audit trail intact"))
