"""`manage.py dumpdata`, audited: dumping a personal-data model (accounts, patients, messages,
appointments, anything encrypted; everything when no label is given) needs `--operator` and writes an
audit event with the models, their row counts and every patient and appointment covered, before a
single row is written out. Other models dump as before."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import CommandError, CommandParser
from django.core.management.commands import dumpdata
from django.db import models

from creneau.accounts.shell_audit import is_personal, operator_actor, record_shell_read, touched_by


def selected_models(labels: list[str], excludes: list[str]) -> list[type[models.Model]]:
    """The models `dumpdata labels --exclude excludes` would dump (as Django resolves them)."""
    chosen: list[type[models.Model]] = []
    try:
        if not labels:
            chosen = list(apps.get_models())
        for label in labels:
            if "." in label:
                app_label, model_name = label.split(".", 1)
                chosen.append(apps.get_app_config(app_label).get_model(model_name))
            else:
                chosen.extend(apps.get_app_config(label).get_models())
        excluded: set[type[models.Model]] = set()
        for label in excludes:
            if "." in label:
                app_label, model_name = label.split(".", 1)
                excluded.add(apps.get_app_config(app_label).get_model(model_name))
            else:
                excluded.update(apps.get_app_config(label).get_models())
    except LookupError as exc:
        raise CommandError(f"Unknown application or model: {exc}") from exc
    return [m for m in dict.fromkeys(chosen) if m not in excluded]


class Command(dumpdata.Command):
    help = dumpdata.Command.help + " Personal-data models need --operator and are audited."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--operator", help="E-mail of the platform operator dumping personal data (audited).")
        parser.add_argument("--reason", default="", help="Why (kept in the audit event).")

    def handle(self, *app_labels: str, **options: Any) -> None:
        personal = [m for m in selected_models(list(app_labels), options.get("exclude") or []) if is_personal(m)]
        if personal:
            actor = operator_actor(options.get("operator"), command="dumpdata")
            using = options.get("database") or "default"
            scope, touched = {}, []
            for model in personal:
                rows = model._default_manager.using(using).all()
                scope[model._meta.label] = rows.count()
                touched += touched_by(model, rows)
            record_shell_read(actor=actor, command="dumpdata", scope=scope, touched=touched, reason=options["reason"])
        options.pop("operator", None)
        options.pop("reason", None)
        super().handle(*app_labels, **options)
