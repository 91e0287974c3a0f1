"""Turn a message kind, a language and a context into subject, text, HTML and SMS bodies.

Templates are plain files per language (`templates/notifications/messages/<lang>/<kind>.txt`, first
line = subject; `<kind>.sms.txt`), so French and English wording can be reviewed side by side. Every
link is checked against `CRENEAU_PUBLIC_URL`: a template that links anywhere else fails loudly."""

from __future__ import annotations

import dataclasses
import re
import secrets
import zoneinfo
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.template import Context, Engine
from django.template.exceptions import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

LANGUAGES = ("fr", "en")
URL_RE = re.compile(r"https?://[^\s<>\"']+")
# No 0/O, 1/I/L: codes are read aloud and typed back.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


class UnsafeLink(Exception):
    """A rendered message links outside the platform's own domain (a template bug, never data)."""


@dataclasses.dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str | None


def new_code() -> str:
    """An 8-character verification code shown as XXXX-XXXX."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_code(value: str) -> str:
    raw = "".join(ch for ch in value.upper() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:8]}" if len(raw) == 8 else raw


def language_of(value: str | None) -> str:
    value = (value or "").lower()[:2]
    return value if value in LANGUAGES else settings.LANGUAGE_CODE[:2]


@cache
def _text_engine() -> Engine:
    """Plain-text templates: no HTML escaping (the HTML part is escaped separately)."""
    return Engine(dirs=[str(Path(__file__).parent / "templates")], autoescape=False)


def public_url(path: str = "/") -> str:
    return settings.CRENEAU_PUBLIC_URL.rstrip("/") + path


def page_url(name: str, *args: object, fallback: str = "/") -> str:
    """Absolute URL of one of our pages in the active language (home page if not installed)."""
    try:
        return public_url(reverse(name, args=args))
    except NoReverseMatch:
        return public_url(fallback)


def check_links(*texts: str) -> None:
    base = urlsplit(settings.CRENEAU_PUBLIC_URL)
    for text in texts:
        for url in URL_RE.findall(text):
            parts = urlsplit(url)
            if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
                raise UnsafeLink("a message template links outside CRENEAU_PUBLIC_URL")


def _html_paragraphs(text: str) -> SafeString:
    """Escape, turn our full URLs (only those) into links, keep line breaks. Unlike `urlize`, a bare
    domain name in the text never becomes a link with a guessed scheme."""
    out = []
    for paragraph in text.split("\n\n"):
        pieces: list[str] = []
        last = 0
        for match in URL_RE.finditer(paragraph):
            pieces.append(escape(paragraph[last : match.start()]))
            url = escape(match.group(0))
            pieces.append(f'<a href="{url}">{url}</a>')
            last = match.end()
        pieces.append(escape(paragraph[last:]))
        out.append("<p>" + "".join(pieces).replace("\n", "<br>") + "</p>")
    return mark_safe("\n".join(out))  # noqa: S308 (every piece above is escaped)


def render(kind: str, language: str, context: dict[str, Any], *, time_zone: str | None = None) -> Rendered:
    """Render all parts of a message in `language`, showing times in `time_zone` (site's zone)."""
    lang = language_of(language)
    tz = zoneinfo.ZoneInfo(time_zone or settings.CRENEAU_DEFAULT_TIME_ZONE)
    with translation.override(lang), timezone.override(tz):
        ctx = {
            **context,
            "public_host": urlsplit(settings.CRENEAU_PUBLIC_URL).netloc,
            "messages_url": page_url("notifications:messages"),
            "account_url": context.get("account_url") or page_url("web:account", fallback="/"),
        }
        engine = _text_engine()
        full = engine.get_template(f"notifications/messages/{lang}/{kind}.txt").render(Context(ctx, autoescape=False))
        footer = engine.get_template(f"notifications/messages/{lang}/_footer.txt").render(
            Context(ctx, autoescape=False)
        )
        subject, _, body = full.strip().partition("\n")
        text = body.strip() + "\n\n-- \n" + footer.strip() + "\n"
        try:
            sms: str | None = (
                engine.get_template(f"notifications/messages/{lang}/{kind}.sms.txt")
                .render(Context(ctx, autoescape=False))
                .strip()
            )
        except TemplateDoesNotExist:
            sms = None
        html = render_to_string(
            "notifications/messages/email.html",
            {
                "subject": subject.strip(),
                "body": _html_paragraphs(body.strip()),
                "footer": _html_paragraphs(footer.strip()),
                "language": lang,
            },
        )
    check_links(text, html, sms or "")
    return Rendered(subject=subject.strip(), text=text, html=html, sms=sms)


def render_sms_lines(name: str, language: str, context: dict[str, Any], *, time_zone: str | None = None) -> str:
    """An SMS-only template (`<lang>/<name>.sms.txt`), rendered like the others (links checked)."""
    lang = language_of(language)
    tz = zoneinfo.ZoneInfo(time_zone or settings.CRENEAU_DEFAULT_TIME_ZONE)
    with translation.override(lang), timezone.override(tz):
        ctx = {**context, "account_url": context.get("account_url") or page_url("web:account", fallback="/")}
        text = (
            _text_engine()
            .get_template(f"notifications/messages/{lang}/{name}.sms.txt")
            .render(Context(ctx, autoescape=False))
            .strip()
        )
    check_links(text)
    return " ".join(text.split())
