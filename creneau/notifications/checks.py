"""System checks: messages may only link to a well-formed platform URL; production should use a real
SMS gateway and HTTPS links."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

DEV_SMS_BACKENDS = ("ConsoleSmsBackend", "FileSmsBackend", "LocmemSmsBackend")


@register()
def check_public_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    parts = urlsplit(getattr(settings, "CRENEAU_PUBLIC_URL", ""))
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        return [
            Error(
                "CRENEAU_PUBLIC_URL must be the platform's origin, like https://rdv.example.fr",
                hint="Every link in e-mails and SMS is built from it, and only links to it are allowed.",
                id="notifications.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_production_channels(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if urlsplit(getattr(settings, "CRENEAU_PUBLIC_URL", "")).scheme != "https":
        messages.append(
            Warning(
                "CRENEAU_PUBLIC_URL is not https: links in messages would be sent in clear.",
                id="notifications.W002",
            )
        )
    if getattr(settings, "CRENEAU_SMS_BACKEND", "").rsplit(".", 1)[-1] in DEV_SMS_BACKENDS:
        messages.append(
            Warning(
                "CRENEAU_SMS_BACKEND is a development backend: no SMS will reach patients.",
                hint="Use creneau.notifications.sms.HttpGatewaySmsBackend with CRENEAU_SMS_GATEWAY_URL.",
                id="notifications.W003",
            )
        )
    return messages
