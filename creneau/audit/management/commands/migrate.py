"""`manage.py migrate`, as the schema owner when DATABASE_OWNER_URL is set (creneau.audit.dbroles).

After migrating it grants the runtime role (the user of DATABASE_URL) its rights, the audit tables being
INSERT and SELECT only."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrate

from creneau.audit import dbroles


class Command(DjangoMigrate):
    def handle(self, *args: Any, **options: Any) -> None:
        alias = options.get("database") or "default"
        if not dbroles.owner_configured(alias):
            super().handle(*args, **options)
            return
        with dbroles.as_owner(alias) as conn:
            super().handle(*args, **options)
            role = settings.CRENEAU_DB_RUNTIME_ROLE
            owner = str(settings.DATABASE_OWNER.get("USER") or "")
            if role and role != owner:
                dbroles.grant_runtime(conn, role)
