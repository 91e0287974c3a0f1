"""Where the audit trail's keys come from: the environment or a mounted file, never the database.

Settings import this module, so it must not import Django.

- ``CRENEAU_AUDIT_SEAL_KEYS`` / ``_FILE``: ``kid:base64key`` entries (commas or newlines), 32 random bytes
  each. The first seals new events, all verify: rotate by putting a new key first and keeping the old ones.
- ``CRENEAU_AUDIT_SIGNING_KEY`` / ``_FILE``: base64 of a 32-byte Ed25519 private key (its seed). It signs
  the chain heads published to the anchor sinks; anyone with the public key can check them.
"""

from __future__ import annotations

import hashlib
import os
import socket
from base64 import b64encode

from creneau.core.crypto.envkeys import parse_key_list, secret_from_env

# Development and test only: derived from public strings, so they protect nothing. Production refuses
# them (system check creneau.E201).
DEV_SEAL_KEYS: list[tuple[str, str]] = [
    ("dev", b64encode(hashlib.sha256(b"creneau insecure development audit seal key").digest()).decode())
]
DEV_SIGNING_KEY = b64encode(hashlib.sha256(b"creneau insecure development audit signing key").digest()).decode()


def secret(name: str) -> str:
    return secret_from_env(name)


def seal_keys_from_env() -> list[tuple[str, str]]:
    return parse_key_list(secret_from_env("CRENEAU_AUDIT_SEAL_KEYS"))


def default_instance_id() -> str:
    """The host name, which tells the nodes of a deployment apart (the process id would change at every
    restart and say nothing to an investigator)."""
    return (os.environ.get("HOSTNAME") or socket.gethostname() or "unknown")[:64]
