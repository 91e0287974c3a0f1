"""The shipped nomenclature of medical specialties (data/specialties.json)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).parent / "data" / "specialties.json"


@cache
def load() -> dict[str, Any]:
    with DATA_FILE.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def specialty_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = load()["specialties"]
    return rows


def code_system() -> str:
    system: str = load()["system"]
    return system
