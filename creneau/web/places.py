"""Town or postcode → coordinates, from the shipped commune list (directory/data/communes.json,
built by scripts/build_communes.py), and great-circle distances."""

from __future__ import annotations

import dataclasses
import json
import math
import unicodedata
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent.parent / "directory" / "data" / "communes.json"


@dataclasses.dataclass(frozen=True, slots=True)
class Place:
    name: str
    postcodes: tuple[str, ...]
    latitude: float
    longitude: float
    population: int

    @property
    def label(self) -> str:
        return f"{self.name} ({self.postcodes[0]})" if self.postcodes else self.name


def _fold(text: str) -> str:
    """Case, accent and punctuation insensitive key: 'Saint-Étienne' == 'saint etienne'."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(text.replace("-", " ").replace("'", " ").split())


@cache
def _places() -> tuple[Place, ...]:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return tuple(
        Place(name=row[0], postcodes=tuple(row[1].split()), latitude=row[2], longitude=row[3], population=row[4])
        for row in data["communes"]
    )


@cache
def _by_name() -> dict[str, Place]:
    out: dict[str, Place] = {}
    for p in _places():  # most populous first: a homonym keeps the bigger town
        out.setdefault(_fold(p.name), p)
    return out


@cache
def _by_postcode() -> dict[str, Place]:
    out: dict[str, Place] = {}
    for p in _places():
        for code in p.postcodes:
            out.setdefault(code, p)
    return out


def find_place(query: str) -> Place | None:
    """Resolve what a patient typed: a postcode, a town, or a suggestion label 'Lyon (69001)'."""
    q = query.strip()
    if not q:
        return None
    if "(" in q and q.endswith(")"):
        name, _sep, code = q[:-1].rpartition("(")
        return _by_postcode().get(code.strip()) or _by_name().get(_fold(name))
    if q.isdigit() and len(q) == 5:
        return _by_postcode().get(q)
    if q.isdigit() and len(q) == 2:  # a département number: its most populous town
        return next((p for p in _places() if any(c.startswith(q) for c in p.postcodes)), None)
    return _by_name().get(_fold(q))


def suggest(query: str, limit: int = 8) -> list[str]:
    """Labels of towns whose name or postcode starts with the query, biggest first."""
    q = _fold(query)
    if len(q) < 2:
        return []
    out: list[str] = []
    for p in _places():
        if _fold(p.name).startswith(q) or any(c.startswith(q) for c in p.postcodes):
            out.append(p.label)
            if len(out) >= limit:
                break
    return out


EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def bounding_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) enclosing the circle, for an indexable first filter."""
    dlat = radius_km / 111.32
    dlon = radius_km / (111.32 * max(math.cos(math.radians(lat)), 0.01))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon
