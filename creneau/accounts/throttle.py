"""Sign-in throttling (credential stuffing, password guessing) that cannot be turned against the owner.

Every password check is *reserved* before it runs (an atomic counter incremented first, given back on
success): however many attempts arrive at once, no more checks run than the limits allow. Three limits,
all keyed by HMACs (no email or address in the cache), none of them revealing whether an account exists:

- per typed email **and source address** (`login-source`): 5 failures, then each further attempt must wait
  a delay that doubles (1, 2, 4, 8… minutes after the fifth failure). An attacker slows only their own
  address: the practitioner signing in from the practice is not locked out (docs/decisions/0004);
- per address over all accounts (`login-ip`): 50 failures per 15 minutes (only failures count, so a
  practice behind one NAT address is not locked out by its own sign-ins);
- per typed email over all addresses (`login-account`): 100 failures per 15 minutes, the brake on a
  guessing attack spread over many addresses. Past it, only a browser that already signed in to this
  account (the signed "seen" cookie) may still try.

`ThrottledModelBackend` enforces them for every login form (the admin's included);
`ThrottledLoginFormMixin` turns a refusal into a clear, calm message."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from creneau.core import clock, ratelimit

from . import devices

LOCKED_MESSAGE = _(
    "Too many unsuccessful sign-in attempts. For your security, sign-in is paused for this account from "
    "this connection for a few minutes, a little longer after each new failure. You can wait, sign in "
    "from a device you used before, or reset your password."
)
# Past the free failures of one email from one address, the n-th further attempt waits BASE_DELAY × (2ⁿ − 1)
# seconds after the fifth failure.
BASE_DELAY = 60
# A source's failures for one email are forgotten after a day without success.
SOURCE_MEMORY = 24 * 3600
_REFUSED = "_creneau_login_refused"


def _account_key(email: str | None) -> str:
    return (email or "").strip().casefold()


def _source(request: HttpRequest | None) -> str:
    return ratelimit.client_ip(request) if request is not None else ""


def _pair_keys(email: str | None, request: HttpRequest | None) -> tuple[str, str]:
    pair = ratelimit.digest(f"{_account_key(email)}\x00{_source(request)}")
    return f"rl-src:{pair}", f"rl-src0:{pair}"


def allowed_failures(elapsed: float) -> int:
    """How many checks one email may have had from one address, `elapsed` seconds after its fifth failure."""
    free = ratelimit.get("login-source").limit
    return free + int(math.log2(1 + max(0.0, elapsed) / BASE_DELAY))


def _reserve_source(email: str | None, request: HttpRequest | None) -> str | None:
    """Reserve a check for this email from this address; None while the growing delay runs."""
    counter, since = _pair_keys(email, request)
    free = ratelimit.get("login-source").limit
    n = ratelimit.counter_incr(counter, SOURCE_MEMORY)
    if n <= free:
        if n == free:
            cache.add(since, clock.now().timestamp(), SOURCE_MEMORY)  # the delays count from the last free attempt
        return counter
    started = cache.get(since)
    elapsed = clock.now().timestamp() - float(started) if started is not None else 0.0
    if n <= allowed_failures(elapsed):
        return counter
    ratelimit.counter_decr(counter)
    return None


def _forget_source(email: str | None, request: HttpRequest | None) -> None:
    cache.delete_many(list(_pair_keys(email, request)))


def _known_device(request: HttpRequest | None, email: str | None) -> bool:
    if request is None or not hasattr(request, "get_signed_cookie"):
        return False
    from .models import User

    user = User.objects.by_email(_account_key(email)).only("pk").first()
    return user is not None and devices.seen_here(request, user.pk)


def checked[T](request: HttpRequest | None, email: str | None, check: Callable[[], T | None]) -> T | None:
    """Run `check` (a password verification returning the user, or None) if the limits allow it.

    Raises `PermissionDenied` when refused, without running it. Reserved before, given back after a
    success: simultaneous attempts never run more checks than the limits."""
    ip = ratelimit.reserve(ratelimit.get("login-ip"), _source(request)) if request is not None else None
    if request is not None and ip is None:
        _refuse(request)
    account = ratelimit.reserve(ratelimit.get("login-account"), _account_key(email))
    if account is None and not _known_device(request, email):
        ratelimit.refund(ip)
        _refuse(request)
    if _reserve_source(email, request) is None:
        ratelimit.refund(ip)
        ratelimit.refund(account)
        _refuse(request)
    result = check()
    if result is not None:
        # Only failures count: a success gives its reservations back and clears this source's failures.
        ratelimit.refund(ip)
        ratelimit.refund(account)
        _forget_source(email, request)
    return result


def _refuse(request: HttpRequest | None) -> None:
    if request is not None:
        setattr(request, _REFUSED, True)
    raise PermissionDenied


def was_refused(request: HttpRequest | None) -> bool:
    return bool(getattr(request, _REFUSED, False))


def lift(request: HttpRequest | None, email: str) -> None:
    """A completed password reset: the account's failures and those of this address are forgotten."""
    ratelimit.reset("login-account", _account_key(email))
    _forget_source(email, request)


@receiver(user_logged_in)
def _on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    _forget_source(getattr(user, "email", ""), request)


class ThrottledModelBackend(ModelBackend):
    """ModelBackend whose password checks are reserved against the sign-in limits first."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        email = username or kwargs.get("email")
        # A refusal raises PermissionDenied: authenticate() stops there and sends user_login_failed.
        return checked(
            request,
            email,
            lambda: super(ThrottledModelBackend, self).authenticate(
                request, username=username, password=password, **kwargs
            ),
        )


class ThrottledLoginFormMixin(forms.Form):
    """For AuthenticationForm subclasses: a clear "paused" message instead of "wrong password"."""

    request: HttpRequest | None

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean() or {}
        except forms.ValidationError:
            if was_refused(self.request):
                raise forms.ValidationError(LOCKED_MESSAGE, code="locked") from None
            raise
