"""`manage.py audit_export_fhir --organization UUID --from ISO --to ISO`: FHIR AuditEvent Bundle on stdout."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from creneau.audit.fhir_export import organization_audit_bundle


class Command(BaseCommand):
    help = "Export an organization's audit trail as FHIR R4 AuditEvent resources."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", required=True)
        parser.add_argument("--from", dest="start", required=True)
        parser.add_argument("--to", dest="end", required=True)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            org = uuid.UUID(opts["organization"])
            start, end = dt.datetime.fromisoformat(opts["start"]), dt.datetime.fromisoformat(opts["end"])
        except ValueError as exc:
            raise CommandError("--organization is a UUID; --from/--to are ISO-8601 datetimes with an offset") from exc
        if start.tzinfo is None or end.tzinfo is None:
            raise CommandError("--from/--to need a time zone offset")
        self.stdout.write(json.dumps(organization_audit_bundle(organization_id=org, start=start, end=end), indent=2))
