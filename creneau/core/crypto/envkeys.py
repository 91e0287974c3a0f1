"""Where encryption keys come from: the environment or a mounted file, never the database.

Settings import this module, so it must not import Django. Formats:

- ``CRENEAU_FIELD_KEYS`` / ``CRENEAU_FIELD_KEYS_FILE``: ``kid:base64key`` entries separated by commas or
  newlines. The first encrypts, all decrypt (like PASSWORD_HASHERS). A key is 32 random bytes.
- ``CRENEAU_BLIND_INDEX_KEY`` / ``CRENEAU_BLIND_INDEX_KEY_FILE``: one base64 key (32 bytes), separate from
  the encryption keys so that an index leak reveals no ciphertext key.

Generate a key with ``python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"``.
"""

from __future__ import annotations

import hashlib
import os
from base64 import b64encode
from pathlib import Path

# Development and test only: derived from public strings, so they protect nothing. The system check
# `creneau.E101` refuses them wherever CRENEAU_REQUIRE_REAL_KEYS is true (production settings).
INSECURE_DEV_KEY_ID = "dev"
DEV_FIELD_KEYS: list[tuple[str, str]] = [
    (INSECURE_DEV_KEY_ID, b64encode(hashlib.sha256(b"creneau insecure development field key").digest()).decode())
]
DEV_BLIND_INDEX_KEY = b64encode(hashlib.sha256(b"creneau insecure development blind-index key").digest()).decode()


def secret_from_env(name: str) -> str:
    """The value of NAME, or the content of the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    path = os.environ.get(f"{name}_FILE", "").strip()
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return ""


def parse_key_list(text: str) -> list[tuple[str, str]]:
    """``kid:base64,kid2:base64`` (commas or newlines) → [(kid, base64), ...], order kept."""
    keys: list[tuple[str, str]] = []
    for raw in text.replace("\n", ",").split(","):
        entry = raw.strip()
        if not entry:
            continue
        kid, sep, material = entry.partition(":")
        if not sep or not kid.strip() or not material.strip():
            raise ValueError("Each field key must look like 'key-id:base64-key'.")
        keys.append((kid.strip(), material.strip()))
    return keys


def field_keys_from_env() -> list[tuple[str, str]]:
    return parse_key_list(secret_from_env("CRENEAU_FIELD_KEYS"))
