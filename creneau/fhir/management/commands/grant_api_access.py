"""Grant an API client access to an organization with scopes (or revoke it), for scripted setups."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from creneau.core.actors import Actor
from creneau.core.errors import DomainError
from creneau.fhir.selectors import active_grants_of_client
from creneau.fhir.services import api_grant_create, api_grant_revoke


class Command(BaseCommand):
    help = "Grant an API client access to an organization with SMART scopes, or --revoke it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_id")
        parser.add_argument("organization_id")
        parser.add_argument(
            "--scopes",
            default="system/*.rs system/Appointment.cruds",
            help='Space-separated SMART scopes (default: "system/*.rs system/Appointment.cruds").',
        )
        parser.add_argument("--revoke", action="store_true", help="Revoke the client's access instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system()
        try:
            uuid.UUID(options["organization_id"])
        except ValueError:
            raise CommandError("Invalid organization id.") from None
        try:
            if options["revoke"]:
                grants = active_grants_of_client(
                    actor, client_id=options["client_id"], organization_id=options["organization_id"]
                )
                if not grants:
                    raise CommandError("No active grant for this client and organization.")
                for grant in grants:
                    api_grant_revoke(actor=actor, grant_id=grant.pk)
                self.stdout.write("revoked")
                return
            grant = api_grant_create(
                actor=actor,
                client_id=options["client_id"],
                organization_id=options["organization_id"],
                scope_list=options["scopes"].split(),
            )
        except DomainError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(f"granted {grant.pk}: {grant.scopes}")
