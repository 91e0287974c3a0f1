"""Register a partner's API client (OAuth2 client credentials). Prints the client id and, once, the
secret: only its hash is kept."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from creneau.core.actors import Actor
from creneau.core.errors import DomainError
from creneau.fhir.services import api_client_create


class Command(BaseCommand):
    help = "Create an API client (client credentials) and print its client id and secret."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The partner software's name, shown to organization admins.")
        parser.add_argument("--json", action="store_true", help="Print a JSON object (for scripts).")
        parser.add_argument(
            "--jwks-file",
            help="A JSON Web Key Set of the client's public keys, to authenticate with private_key_jwt.",
        )
        parser.add_argument(
            "--jwks-uri",
            default="",
            help="The https URL where the client publishes its JWKS (host in CRENEAU_JWKS_ALLOWED_HOSTS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        jwks = None
        if options["jwks_file"]:
            try:
                with open(options["jwks_file"], encoding="utf-8") as fh:
                    jwks = json.load(fh)
            except (OSError, ValueError) as exc:
                raise CommandError("Cannot read the JWKS file as JSON.") from exc
        try:
            app, secret = api_client_create(
                actor=Actor.system(), name=options["name"], jwks=jwks, jwks_uri=options["jwks_uri"]
            )
        except DomainError as exc:
            raise CommandError(str(exc.message)) from exc
        client_id = app.client_id  # type: ignore[attr-defined]
        if options["json"]:
            self.stdout.write(json.dumps({"client_id": client_id, "client_secret": secret or None}))
        elif not secret:
            self.stdout.write(f"client_id: {client_id}\n(authenticates with private_key_jwt only: no secret)")
        else:
            self.stdout.write(
                f"client_id: {client_id}\nclient_secret: {secret}\n(the secret is not stored; keep it now)"
            )
