"""Domain events: a service announces what happened; listeners chosen by settings react.

A lower app (accounts, booking...) must not import the apps that react to it (notifications, incidents).
It calls `emit("account.password_changed", user_id=...)`; `settings.CRENEAU_EVENT_HANDLERS` maps each
event name to dotted paths of handlers, loaded with `import_string`. Handlers run synchronously inside
the emitter's transaction, so a message queued in the outbox commits or rolls back with the write that
caused it. A handler that must not fail the write defers its own work (`core.aftercommit`)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

logger = logging.getLogger("creneau.events")

Handler = Callable[..., object]


@functools.cache
def handlers_for(name: str) -> tuple[Handler, ...]:
    """The handlers configured for one event name (cached; reset when the setting changes in tests)."""
    table: dict[str, list[str]] = getattr(settings, "CRENEAU_EVENT_HANDLERS", {})
    return tuple(import_string(path) for path in table.get(name, ()))


def emit(name: str, /, **payload: Any) -> int:
    """Call every handler of `name` with the payload (keyword arguments: identifiers, not personal
    data, wherever possible). Returns how many ran. A handler's exception propagates: the write fails
    with it rather than committing without its message."""
    ran = 0
    for handler in handlers_for(name):
        handler(**payload)
        ran += 1
    return ran


@receiver(setting_changed)
def _reset(*, setting: str, **_: Any) -> None:
    if setting == "CRENEAU_EVENT_HANDLERS":
        handlers_for.cache_clear()
