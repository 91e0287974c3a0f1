"""Rebuild the next-availability index: `manage.py refresh_availability [--batch 200]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from creneau.directory.models import Practitioner
from creneau.scheduling.services import availability_refresh


class Command(BaseCommand):
    help = "Recompute the next free slots of every active practitioner."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=200)

    def handle(self, *args: Any, **opts: Any) -> None:
        ids = list(Practitioner.objects.filter(is_active=True).values_list("pk", flat=True))
        rows = 0
        for i in range(0, len(ids), opts["batch"]):
            rows += availability_refresh(practitioner_ids=ids[i : i + opts["batch"]])
        self.stdout.write(f"{len(ids)} practitioners, {rows} index rows.")
