"""`manage.py audit_public_key`: the public half of CRENEAU_AUDIT_SIGNING_KEY, to give to auditors."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from creneau.audit.keys import public_key_text, signing_key


class Command(BaseCommand):
    help = "Print the Ed25519 public key (base64) that verifies the published audit chain heads."
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **opts: Any) -> None:
        self.stdout.write(f"{public_key_text()}  (key id {signing_key()[0]})")
