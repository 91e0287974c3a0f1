"""Rate limits hold under concurrent requests (atomic counters), locally and on Redis, and pages say so."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from creneau.booking import services
from creneau.booking.services import SlotRef
from creneau.core import clock, ratelimit
from creneau.core.errors import PolicyViolation

from . import factories as f
from .conftest import REDIS_TEST_URL
from .personas import World


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    # Messages asserted in English: the language active in this thread must be English too.
    with translation.override("en"):
        yield


def hammer(limit: ratelimit.Limit, key: str, n: int) -> int:
    """n concurrent hits; how many were allowed."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        return sum(pool.map(lambda _: ratelimit.allow(limit, key), range(n)))


def test_concurrent_hits_never_exceed_the_limit_on_the_local_cache() -> None:
    assert hammer(ratelimit.Limit("test", 10, 60), "same-client", 200) == 10


@pytest.mark.redis
def test_concurrent_hits_never_exceed_the_limit_on_redis() -> None:
    redis_cache = {
        "default": {
            "BACKEND": "creneau.core.cache.RedisCache",  # the production backend
            "LOCATION": REDIS_TEST_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    with override_settings(CACHES=redis_cache):
        limit = ratelimit.Limit("test", 25, 60)
        assert hammer(limit, "same-client", 300) == 25
        key = caches["default"].make_and_validate_key(ratelimit._cache_key(limit, "same-client"))
        cache = caches["default"]
        assert isinstance(cache, RedisCache)
        client = cache._cache.get_client(key)
        assert 0 < client.ttl(key) <= 61  # the window expires on its own
        assert ratelimit.count(limit, "same-client") == 300


def reserve_many(limit: ratelimit.Limit, key: str, n: int) -> int:
    """n concurrent reservations; how many were granted."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        return sum(pool.map(lambda _: ratelimit.reserve(limit, key) is not None, range(n)))


def test_reservations_never_exceed_the_limit_and_refusals_are_not_kept() -> None:
    limit = ratelimit.Limit("test-reserve", 7, 60)
    assert reserve_many(limit, "k", 200) == 7
    assert ratelimit.count(limit, "k") == 7  # the 193 refused attempts were given back
    ratelimit.refund(ratelimit.Reservation(ratelimit._cache_key(limit, "k")))
    assert ratelimit.reserve(limit, "k") is not None  # a refund frees one place


@pytest.mark.redis
def test_reservations_and_refunds_are_atomic_on_redis() -> None:
    redis_cache = {
        "default": {
            "BACKEND": "creneau.core.cache.RedisCache",
            "LOCATION": REDIS_TEST_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    with override_settings(CACHES=redis_cache):
        limit = ratelimit.Limit("test-reserve", 12, 60)
        assert reserve_many(limit, "k", 300) == 12
        assert ratelimit.count(limit, "k") == 12
        # A refund of a counter that expired meanwhile does not bring it back without an expiry.
        gone = ratelimit.Reservation(ratelimit._cache_key(ratelimit.Limit("test-gone", 1, 60), "k"))
        ratelimit.refund(gone)
        key = caches["default"].make_and_validate_key(gone.cache_key)
        cache = caches["default"]
        assert isinstance(cache, RedisCache)
        assert cache._cache.get_client(key).exists(key) == 0


def test_cache_keys_carry_no_personal_data() -> None:
    key = ratelimit._cache_key(ratelimit.get("login-account"), "alice.martin@example.invalid")
    assert "alice" not in key and "example" not in key


def test_a_new_window_starts_afresh() -> None:
    limit = ratelimit.Limit("test", 1, 60)
    with clock.frozen_at(f.paris(2026, 3, 2, 7, 0)):
        assert ratelimit.allow(limit, "k") and not ratelimit.allow(limit, "k")
    with clock.frozen_at(f.paris(2026, 3, 2, 7, 2)):
        assert ratelimit.allow(limit, "k")


@pytest.mark.django_db
@override_settings(CRENEAU_RATE_LIMITS={"signup-ip": (2, 3600)})
def test_sign_up_is_rate_limited_per_address(client: object) -> None:
    with translation.override("en"):
        url = reverse("accounts:signup")
    for i in range(2):
        client.post(url, {"email": f"n{i}@example.invalid"})  # type: ignore[attr-defined]
    response = client.post(url, {"email": "n9@example.invalid"})  # type: ignore[attr-defined]
    assert response.status_code == 429
    assert "Please wait" in response.content.decode()


@pytest.mark.django_db
@override_settings(CRENEAU_RATE_LIMITS={"search-ip": (3, 60)})
def test_search_is_rate_limited_per_address(client: object) -> None:
    with clock.frozen_at(clock.now()):  # the four searches in one window, however slow the machine
        codes = [client.get(reverse("web:home"), {"specialty": "derm", "where": "Lyon"}).status_code for _ in range(4)]  # type: ignore[attr-defined]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429


@override_settings(CRENEAU_RATE_LIMITS={"hold-actor": (3, 3600)}, CRENEAU_MAX_ACTIVE_HOLDS=10)
def test_a_patient_cannot_sweep_the_agenda_hold_after_hold(world: World) -> None:
    actor = world.patient_actor
    for i in range(3):
        hold = services.slot_hold(
            actor=actor,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 2, 9 + i, 0)),
        )
        services.hold_release(actor=actor, hold_id=hold.pk)
    with pytest.raises(ratelimit.RateLimited) as exc:
        services.slot_hold(
            actor=actor, slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 2, 11, 0))
        )
    assert exc.value.http_status == 429


@override_settings(CRENEAU_MAX_FUTURE_APPOINTMENTS=2)
def test_an_account_cannot_hoard_future_appointments(world: World) -> None:
    actor, patient = world.patient_actor, world.patient
    for day in (3, 4):
        services.appointment_book(
            actor=actor,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, day, 9, 0)),
            patient_id=patient.pk,
        )
    with pytest.raises(PolicyViolation, match="upcoming appointments"):
        services.appointment_book(
            actor=actor,
            slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 5, 9, 0)),
            patient_id=patient.pk,
        )
    # Practices booking by phone are not capped.
    services.appointment_book(
        actor=world.secretary,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 5, 9, 30)),
        patient_id=patient.pk,
    )
    assert clock.now() < f.paris(2026, 3, 3, 0, 0) + dt.timedelta(days=1)
