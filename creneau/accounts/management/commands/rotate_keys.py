"""`manage.py rotate_keys`: re-encrypt every encrypted field under the primary key, in batches.

Rotation: put the new key first in CRENEAU_FIELD_KEYS (old keys after it), run this command, then
remove the old keys. It is resumable: each batch commits on its own and only rows that still hold a
value under a non-primary key are selected, so an interrupted run picks up where it stopped. Blind
indexes are recomputed on the way (they follow CRENEAU_BLIND_INDEX_KEY).

It reads every identity in clear: each batch writes, in its own transaction, an audit event naming the
operator (`--operator`, else the system and the OS account that ran it) with the models, the row counts
and the patients covered (accounts/shell_audit.py)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.db import models, transaction
from django.db.models import Q

from creneau.accounts.shell_audit import command_actor, record_shell_read
from creneau.core.crypto.fields import BlindIndexField, Ciphertext, EncryptedMixin
from creneau.core.crypto.keys import provider


def encrypted_models() -> list[tuple[type[models.Model], list[str], list[str]]]:
    """(model, encrypted field names, blind index field names) for every concrete model with encryption."""
    found = []
    for model in apps.get_models():
        enc = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedMixin)]
        if enc:
            bidx = [f.name for f in model._meta.concrete_fields if isinstance(f, BlindIndexField)]
            found.append((model, enc, bidx))
    return found


def stale_filter(fields: list[str], primary: str) -> Q:
    """Rows where some encrypted field is not under the primary key."""
    q = Q()
    prefix = Ciphertext(f"{primary}:")
    for name in fields:
        q |= Q(**{f"{name}__isnull": False}) & ~Q(**{f"{name}__startswith": prefix})
    return q


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields with the first key of CRENEAU_FIELD_KEYS (batched, resumable)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--max-batches", type=int, default=0, help="Stop after this many batches (0: all).")
        parser.add_argument("--dry-run", action="store_true", help="Only count the rows still to re-encrypt.")
        parser.add_argument("--operator", help="E-mail of the platform operator running it (audited).")

    def handle(self, *args: Any, **opts: Any) -> None:
        primary = provider().primary_key_id()
        actor, os_user = command_actor(opts.get("operator"), command="rotate_keys")
        batch_size = max(1, opts["batch_size"])
        batches = 0
        for model, enc_fields, bidx_fields in encrypted_models():
            label = model._meta.label
            pending = model._default_manager.filter(stale_filter(enc_fields, primary))
            if opts["dry_run"]:
                self.stdout.write(f"{label}: {pending.count()} row(s) to re-encrypt under key {primary!r}.")
                continue
            done = 0
            while True:
                if opts["max_batches"] and batches >= opts["max_batches"]:
                    self.stdout.write(f"{label}: stopped after {batches} batch(es); run again to resume.")
                    return
                with transaction.atomic():
                    rows = list(pending.order_by("pk").select_for_update()[:batch_size])
                    if not rows:
                        break
                    for row in rows:
                        # Reading opens each value with whichever key sealed it; saving seals with the primary.
                        for name in enc_fields:
                            getattr(row, name)
                        row.save(update_fields=[*enc_fields, *bidx_fields])
                    record_shell_read(
                        actor=actor,
                        command="rotate_keys",
                        scope={label: len(rows)},
                        touched=[(row.pk, None, None) for row in rows] if label == "patients.Patient" else [],
                        os_user=os_user,
                    )
                done += len(rows)
                batches += 1
            self.stdout.write(f"{label}: {done} row(s) re-encrypted under key {primary!r}.")
