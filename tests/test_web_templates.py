"""The pages stay compatible with a strict Content-Security-Policy: no inline script or style."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from . import factories as f
from .personas import World
from .web_support import refresh, signed_in

TEMPLATE_DIRS = [Path("creneau/web/templates"), Path("creneau/accounts/templates")]
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def test_templates_have_no_inline_script_style_or_handlers() -> None:
    offenders = [
        f"{path}: {m.group(0)}"
        for d in TEMPLATE_DIRS
        for path in d.rglob("*.html")
        for m in INLINE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.django_db
def test_rendered_pages_load_only_own_static_files(world: World, client: Client) -> None:
    refresh(world.doc)
    pages = [
        client.get("/", {"specialty": "dermatologie", "where": "Lyon"}),
        client.get(f"/practitioners/{world.doc.pk}/"),
        signed_in(world.user).get("/account/"),
        signed_in(f.user_of(world.secretary)).get(f"/practice/agenda/{world.agenda.pk}/"),
    ]
    for response in pages:
        html = response.content.decode()
        assert response.status_code == 200
        assert not INLINE.search(html)
        assert re.findall(r'(?:src|href)="(https?:)?//', html) == []  # nothing from another origin
