"""French is the default language: every string of the catalogue has its French, none is left fuzzy,
and the compiled catalogue the server reads (django.mo) says what django.po says (a .po merged without
recompiling would silently show English)."""

from __future__ import annotations

import gettext
import subprocess
from pathlib import Path

import pytest

PO = Path(__file__).resolve().parents[1] / "locale" / "fr" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def _entries() -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) of each entry, with the continuation lines joined (plural forms: the
    singular and the first French form)."""
    out: list[tuple[str, str, bool]] = []
    for block in PO.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if line.strip()]
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        current = ""
        parts: dict[str, str] = {}
        for line in lines:
            if line.startswith("#"):
                continue
            if line.startswith(("msgid ", "msgstr ", "msgstr[0] ", "msgid_plural ", "msgctxt ")):
                current, _, rest = line.partition(" ")
                parts[current] = rest.strip().strip('"')
            elif line.startswith('"') and current:
                parts[current] += line.strip().strip('"')
        if parts.get("msgid"):
            out.append((parts["msgid"], parts.get("msgstr", parts.get("msgstr[0]", "")), fuzzy))
    return out


def test_every_string_has_its_french_and_none_is_fuzzy() -> None:
    entries = _entries()
    assert len(entries) > 500
    assert [m for m, s, _f in entries if not s] == []
    assert [m for m, _s, f in entries if f] == []


def test_the_compiled_catalogue_is_the_source_catalogue(tmp_path: Path) -> None:
    compiled = tmp_path / "django.mo"
    try:
        subprocess.run(["msgfmt", "-o", str(compiled), str(PO)], check=True, capture_output=True)
    except FileNotFoundError:  # pragma: no cover - .ci/run installs gettext
        pytest.fail("msgfmt (gettext) is needed to compile the French catalogue")
    with compiled.open("rb") as fresh, MO.open("rb") as shipped:
        expected = gettext.GNUTranslations(fresh)._catalog  # type: ignore[attr-defined]
        actual = gettext.GNUTranslations(shipped)._catalog  # type: ignore[attr-defined]
    stale = sorted(str(k) for k in set(expected) ^ set(actual) | {k for k in expected if actual.get(k) != expected[k]})
    assert stale == [], "recompile: .venv/bin/python manage.py compilemessages -l fr"
