"""Version tokens of the availability index, kept in the shared cache (Redis in production).

Every write to the index replaces the token of each specialty it touched and the global token, once the
write has committed. An answer cached from the index carries the tokens it was computed under in its
key: once a booking, cancellation or agenda change moves one of them, the old answer is never served
again, on any node. Readers take the tokens *before* reading the index, so an answer computed from
data older than a token can only be stored under an older token."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from django.core.cache import cache
from django.db import transaction

GLOBAL = "*"


def _key(scope: str) -> str:
    return f"availability:version:{scope}"


def availability_versions(scopes: Sequence[str]) -> tuple[str, ...]:
    """Current tokens of these scopes (specialty codes, or GLOBAL), in order; one cache round trip."""
    keys = [_key(s) for s in scopes]
    got = cache.get_many(keys)
    return tuple(str(got.get(k, "0")) for k in keys)


def _bump(practitioner_ids: list[uuid.UUID]) -> None:
    from creneau.directory.models import Practitioner

    specialties = set(Practitioner.objects.filter(pk__in=practitioner_ids).values_list("specialty_id", flat=True))
    # A fresh random token, not a counter: an evicted key can never bring back a value already used.
    token = uuid.uuid4().hex
    cache.set_many({_key(s): token for s in [GLOBAL, *sorted(str(s) for s in specialties)]}, timeout=None)


def availability_changed(*, practitioner_ids: Iterable[uuid.UUID]) -> None:
    """Mark these practitioners' availability as changed, once the current transaction commits."""
    ids = list(dict.fromkeys(practitioner_ids))
    if ids:
        transaction.on_commit(lambda: _bump(ids))
