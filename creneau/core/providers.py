"""Providers: a lower app asks a question that only an app above it can answer, through a function that
the higher app names in the settings (a dotted path loaded with `import_string`, like
AUTHENTICATION_BACKENDS). The lower app never imports the answering app; with no provider configured the
question has the answer "nothing" (the caller decides what that means)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

# Each setting naming a provider, with who asks and who answers (checked by creneau.E106).
PROVIDER_SETTINGS = (
    # scheduling.selectors asks for the active appointments and holds overlapping a period; booking answers.
    "CRENEAU_BUSY_TIME_PROVIDER",
    # patients.selectors asks which patients have appointments with organizations; booking answers.
    "CRENEAU_PATIENTS_SEEN_PROVIDER",
    # core.suspension asks whether a principal is suspended, and has a refused request recorded; audit
    # answers both (required: creneau.E107).
    "CRENEAU_SUSPENSION_PROVIDER",
    "CRENEAU_REFUSAL_RECORDER",
)
# Providers without which a security control would silently do nothing (creneau.E107).
REQUIRED_PROVIDERS = ("CRENEAU_SUSPENSION_PROVIDER", "CRENEAU_REFUSAL_RECORDER")


@functools.cache
def provider(setting: str) -> Callable[..., Any] | None:
    """The function named by `setting`, or None when it is empty (cached; reset when settings change)."""
    path = getattr(settings, setting, "")
    return import_string(path) if path else None


@receiver(setting_changed)
def _reset(*, setting: str, **_: Any) -> None:
    if setting in PROVIDER_SETTINGS:
        provider.cache_clear()
