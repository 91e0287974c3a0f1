"""System checks for the security configuration. Stable ids: creneau.E101–E108, creneau.W108."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from creneau.core.crypto import envkeys


@register(Tags.security)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Production (CRENEAU_REQUIRE_REAL_KEYS) refuses to start without real field and blind-index keys."""
    errors: list[CheckMessage] = []
    keys = list(getattr(settings, "CRENEAU_FIELD_KEYS", []) or [])
    bidx = getattr(settings, "CRENEAU_BLIND_INDEX_KEY", "")
    if settings.CRENEAU_REQUIRE_REAL_KEYS:
        if not keys or not bidx:
            errors.append(
                Error(
                    "Encryption keys are missing: personal data cannot be stored.",
                    hint="Set CRENEAU_FIELD_KEYS (or CRENEAU_FIELD_KEYS_FILE) and CRENEAU_BLIND_INDEX_KEY "
                    "(or CRENEAU_BLIND_INDEX_KEY_FILE). See docs/decisions/0003-encryption-at-rest.md.",
                    id="creneau.E101",
                )
            )
        dev_material = {m for _, m in envkeys.DEV_FIELD_KEYS} | {envkeys.DEV_BLIND_INDEX_KEY}
        if any(m in dev_material for _, m in keys) or bidx in dev_material:
            errors.append(
                Error(
                    "The public development encryption keys are configured in production.",
                    hint="Generate real keys; never reuse the development keys.",
                    id="creneau.E102",
                )
            )
    if keys and bidx:
        from creneau.core.crypto.keys import SettingsKeyProvider

        if settings.CRENEAU_KEY_PROVIDER.endswith("SettingsKeyProvider"):
            try:
                SettingsKeyProvider()
            except ImproperlyConfigured as exc:
                errors.append(Error(f"Encryption keys are invalid: {exc}", id="creneau.E103"))
    return errors


def _importable(setting: str, paths: list[str], check_id: str) -> list[CheckMessage]:
    """An Error for each dotted path of a settings list that does not import or is not callable."""
    errors: list[CheckMessage] = []
    for path in paths:
        try:
            target = import_string(path)
        except ImportError as exc:
            errors.append(Error(f"{setting}: {path!r} cannot be imported ({exc}).", id=check_id))
            continue
        if not callable(target):
            errors.append(Error(f"{setting}: {path!r} is not callable.", id=check_id))
    return errors


@register()
def check_event_handlers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every handler named in CRENEAU_EVENT_HANDLERS imports (a typo would otherwise surface only when
    the event is first emitted, failing that write)."""
    table: dict[str, list[str]] = getattr(settings, "CRENEAU_EVENT_HANDLERS", {})
    return _importable("CRENEAU_EVENT_HANDLERS", [p for paths in table.values() for p in paths], "creneau.E104")


@register()
def check_periodic_jobs(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every job named in CRENEAU_PERIODIC_JOBS imports (else the worker would fail at its first round)."""
    table: list[tuple[str, int, str]] = getattr(settings, "CRENEAU_PERIODIC_JOBS", [])
    return _importable("CRENEAU_PERIODIC_JOBS", [path for _, _, path in table], "creneau.E105")


@register()
def check_providers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every provider named in the CRENEAU_*_PROVIDER settings imports (creneau.core.providers)."""
    from creneau.core.providers import PROVIDER_SETTINGS

    paths = [path for name in PROVIDER_SETTINGS if (path := getattr(settings, name, ""))]
    return _importable("provider settings", paths, "creneau.E106")


@register(Tags.security)
def check_required_providers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The suspension gate's providers are set: empty, every suspended principal would get through."""
    from creneau.core.providers import REQUIRED_PROVIDERS

    return [
        Error(f"{name} is empty: suspended principals would not be refused.", id="creneau.E107")
        for name in REQUIRED_PROVIDERS
        if not getattr(settings, name, "")
    ]


@register(Tags.security)
def check_video_service(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Teleconsultation rooms (booking.video) are links to `CRENEAU_VIDEO_BASE_URL`: an absolute HTTPS
    URL (HTTP only on this machine), with no query or fragment the room name would be appended to; in
    production not the documentation's placeholder domain, or every e-mailed room would lead nowhere."""
    from urllib.parse import urlsplit

    base = str(getattr(settings, "CRENEAU_VIDEO_BASE_URL", ""))
    parts = urlsplit(base)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    problem = ""
    if not parts.hostname or parts.scheme not in ("https", "http") or (parts.scheme == "http" and not local):
        problem = "must be an absolute https:// URL"
    elif parts.query or parts.fragment:
        problem = "must not have a query or a fragment (the room name is appended to it)"
    elif settings.CRENEAU_REQUIRE_REAL_KEYS and (parts.hostname or "").endswith(".example"):
        return [
            Warning(
                "CRENEAU_VIDEO_BASE_URL is still the placeholder domain: teleconsultation links lead nowhere.",
                hint="Set it to the video service (e.g. a self-hosted Jitsi); README, CRENEAU_VIDEO_BASE_URL.",
                id="creneau.W108",
            )
        ]
    if not problem:
        return []
    return [Error(f"CRENEAU_VIDEO_BASE_URL {problem}.", hint="README, CRENEAU_VIDEO_BASE_URL.", id="creneau.E108")]
