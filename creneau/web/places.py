"""Town or postcode → coordinates, from the shipped commune list (directory/data/communes.json,
built by scripts/build_communes.py), and great-circle distances."""

from __future__ import annotations

import dataclasses
import json
import math
import re
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
    return " ".join(re.sub(r"[-'’.,/]", " ", text).split())


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


# Approximate centres of the arrondissements of Paris, Lyon and Marseille (1st, 2nd...), so that
# "Lyon 3e" or "75015" measures distances from that district rather than from the city centre.
ARRONDISSEMENTS: dict[str, tuple[str, tuple[tuple[float, float], ...]]] = {
    "paris": (
        "75",
        (
            (48.8625, 2.3364),
            (48.8683, 2.3428),
            (48.8630, 2.3600),
            (48.8543, 2.3576),
            (48.8445, 2.3507),
            (48.8491, 2.3328),
            (48.8562, 2.3121),
            (48.8727, 2.3125),
            (48.8770, 2.3375),
            (48.8762, 2.3607),
            (48.8591, 2.3800),
            (48.8396, 2.3876),
            (48.8283, 2.3623),
            (48.8292, 2.3266),
            (48.8401, 2.2929),
            (48.8604, 2.2620),
            (48.8873, 2.3067),
            (48.8925, 2.3484),
            (48.8871, 2.3848),
            (48.8634, 2.4011),
        ),
    ),
    "lyon": (
        "69",
        (
            (45.7676, 4.8344),
            (45.7500, 4.8270),
            (45.7550, 4.8650),
            (45.7780, 4.8270),
            (45.7560, 4.8020),
            (45.7700, 4.8520),
            (45.7330, 4.8400),
            (45.7350, 4.8690),
            (45.7740, 4.8050),
        ),
    ),
    "marseille": (
        "13",
        (
            (43.2990, 5.3840),
            (43.3170, 5.3640),
            (43.3110, 5.3800),
            (43.3060, 5.4010),
            (43.2930, 5.3980),
            (43.2870, 5.3810),
            (43.2830, 5.3600),
            (43.2400, 5.3760),
            (43.2350, 5.4440),
            (43.2750, 5.4260),
            (43.2880, 5.4840),
            (43.3080, 5.4390),
            (43.3500, 5.4330),
            (43.3450, 5.3910),
            (43.3590, 5.3600),
            (43.3620, 5.3140),
        ),
    ),
}
_ARRONDISSEMENT = re.compile(
    r"^(paris|lyon|marseille) (\d{1,2}) ?(?:e|er|eme|ieme|em|ere|nd|th|st|rd)?(?: arr(?:ondissement)?)?$"
)


def _district(city: str, number: int) -> Place | None:
    dept, centres = ARRONDISSEMENTS[city]
    if not 1 <= number <= len(centres):
        return None
    lat, lon = centres[number - 1]
    town = _by_name()[city]
    codes = (f"{dept}{number:03d}",) + (("75116",) if city == "paris" and number == 16 else ())
    suffix = "er" if number == 1 else "e"
    return Place(name=f"{town.name} {number}{suffix}", postcodes=codes, latitude=lat, longitude=lon, population=0)


def _district_of_postcode(code: str) -> Place | None:
    for city in ARRONDISSEMENTS:
        town = _by_name().get(city)
        if town is not None and code in town.postcodes:
            number = 16 if code == "75116" else int(code[2:])
            return _district(city, number)
    return None


def find_place(query: str) -> Place | None:
    """Resolve what a patient typed: a postcode, a town, an arrondissement ('Lyon 3e', 'Paris 15'),
    or a suggestion label 'Lyon (69001)'."""
    q = query.strip()
    if not q:
        return None
    if "(" in q and q.endswith(")"):
        name, _sep, code = q[:-1].rpartition("(")
        code = code.strip()
        return _district_of_postcode(code) or _by_postcode().get(code) or find_place(name)
    folded = _fold(q)
    m = _ARRONDISSEMENT.match(folded)
    if m:
        return _district(m.group(1), int(m.group(2)))
    if q.isdigit() and len(q) == 5:
        return _district_of_postcode(q) or _by_postcode().get(q)
    if q.isdigit() and len(q) == 2:  # a département number: its most populous town
        return next((p for p in _places() if any(c.startswith(q) for c in p.postcodes)), None)
    return _by_name().get(_fold(q))


def suggest(query: str, limit: int = 8) -> list[str]:
    """Labels of towns whose name or postcode starts with the query, biggest first; for Paris, Lyon
    and Marseille followed by a number or a space, their arrondissements."""
    q = _fold(query)
    if len(q) < 2:
        return []
    out: list[str] = []
    city, _sep, rest = q.partition(" ")
    if city in ARRONDISSEMENTS and _sep and rest:
        digits = "".join(ch for ch in rest if ch.isdigit())
        for n in range(1, len(ARRONDISSEMENTS[city][1]) + 1):
            if not digits or str(n).startswith(digits):
                district = _district(city, n)
                if district is not None:
                    out.append(district.label)
        return out[:limit]
    for p in _places():
        if _fold(p.name).startswith(q) or any(c.startswith(q) for c in p.postcodes):
            if _fold(p.name) in ARRONDISSEMENTS:  # the whole city, then its arrondissements
                out.append(p.name)
                out += [d.label for n in range(1, 4) if (d := _district(_fold(p.name), n)) is not None]
                continue
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
