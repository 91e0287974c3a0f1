"""`manage.py incident_scope --principal client:ID --from ISO --to ISO [--open] [--json]`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from creneau.core.actors import Actor
from creneau.incidents.services import authority_report, incident_open, incident_scope


def _when(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not an ISO-8601 datetime: {value!r}") from exc
    if moment.tzinfo is None:
        raise CommandError("datetimes need a time zone offset (e.g. 2026-07-21T00:00+02:00)")
    return moment


class Command(BaseCommand):
    help = "Compute from the audit trail exactly which patients and appointments a principal received."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--principal", required=True, help='e.g. "client:abc" or "user:<uuid>"')
        parser.add_argument("--from", dest="start", required=True)
        parser.add_argument("--to", dest="end", required=True)
        parser.add_argument("--open", action="store_true", help="Open an incident with this scope.")
        parser.add_argument("--json", action="store_true", help="Print the full scope as JSON.")

    def handle(self, *args: Any, **opts: Any) -> None:
        start, end = _when(opts["start"]), _when(opts["end"])
        if end <= start:
            raise CommandError("--to must be after --from")
        if opts["open"]:
            incident = incident_open(actor=Actor.system(), principal=opts["principal"], start=start, end=end)
            self.stdout.write(authority_report(incident))
            data = incident.scope
        else:
            data = incident_scope(principal=opts["principal"], start=start, end=end).as_json()
        if opts["json"]:
            self.stdout.write(json.dumps(data, indent=2))
        else:
            c = data["counts"]
            self.stdout.write(
                f"{c['patients']} patients, {c['appointments']} appointments, {c['organizations']} organizations; "
                f"categories: {', '.join(data['categories']) or 'none'}"
            )
