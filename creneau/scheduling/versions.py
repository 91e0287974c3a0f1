"""Version tokens of the availability index, kept in the shared cache (Redis in production), and answers
cached under them.

Every write to the index replaces the token of each specialty it touched and the global token, once the
write has committed. A cached answer is stored with the tokens it was computed under and served only
while they are still the current ones: once a booking, cancellation or agenda change moves one of them,
the old answer is never served again, on any node. Readers take the tokens *before* reading the index
(in the same round trip as the cached answer), so an answer computed from data older than a token can
only be stored with an older token."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.cache import cache

from creneau.core.aftercommit import after_commit

GLOBAL = "*"


def _key(scope: str) -> str:
    return f"availability:version:{scope}"


def versioned_get(key: str, scopes: Sequence[str]) -> tuple[Any, tuple[str, ...]]:
    """(the answer cached at `key` if still current else None, the current tokens of `scopes`: specialty
    codes or GLOBAL), in one cache round trip. Pass the tokens to `versioned_set` with the new answer."""
    version_keys = [_key(s) for s in scopes]
    got = cache.get_many([key, *version_keys])
    versions = tuple(str(got.get(k, "0")) for k in version_keys)
    entry = got.get(key)
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == versions:
        return entry[1], versions
    return None, versions


def versioned_set(key: str, versions: tuple[str, ...], value: Any, timeout: int) -> None:
    cache.set(key, (versions, value), timeout)


def _bump(practitioner_ids: list[uuid.UUID]) -> None:
    from creneau.directory.models import Practitioner

    specialties = set(Practitioner.objects.filter(pk__in=practitioner_ids).values_list("specialty_id", flat=True))
    # A fresh random token, not a counter: an evicted key can never bring back a value already used.
    token = uuid.uuid4().hex
    cache.set_many({_key(s): token for s in [GLOBAL, *sorted(str(s) for s in specialties)]}, timeout=None)


def bump_now(practitioner_ids: list[uuid.UUID]) -> None:
    """Replace the tokens at once (outside any transaction's commit)."""
    _bump(practitioner_ids)


def availability_changed(*, practitioner_ids: Iterable[uuid.UUID]) -> None:
    """Mark these practitioners' availability as changed, once the current transaction commits.

    A failure there (the specialty lookup with the database gone) is logged and never reaches the client
    whose change committed. With Redis unreachable nothing is cached meanwhile; the bump is dropped and
    the tokens deleted once Redis answers again (creneau.core.cache), which invalidates every answer
    cached under them, so an answer cached before the change cannot outlive the outage for more than
    its CRENEAU_FHIR_SLOT_CACHE_SECONDS."""
    ids = list(dict.fromkeys(practitioner_ids))
    if ids:
        after_commit("availability version bump", lambda: _bump(ids))
