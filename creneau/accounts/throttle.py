"""Sign-in throttling and lockout (credential stuffing, password guessing), without account enumeration.

Failures are counted per typed email (normalized and HMAC'd, whether or not an account exists) and
per client IP. Past `login-account` failures the email is locked for LOCKOUT_SECONDS; past
`login-ip` attempts the IP is refused. A locked or unknown email gets exactly the same answer.
Enforced twice: `ThrottledModelBackend` refuses to check passwords while locked (covers every login
form, the Django admin's included) and `ThrottledLoginFormMixin` turns that into a clear message."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from creneau.core import ratelimit

LOCKED_MESSAGE = _(
    "Too many unsuccessful sign-in attempts. For your security, sign-in is paused for this account "
    "for 15 minutes. You can wait, or reset your password."
)


def _account_key(email: str | None) -> str:
    return (email or "").strip().casefold()


def login_blocked(request: HttpRequest | None, email: str | None) -> bool:
    if ratelimit.is_locked("login-account", _account_key(email)):
        return True
    if request is not None:
        ip = ratelimit.client_ip(request)
        return ratelimit.count(ratelimit.get("login-ip"), ip) >= ratelimit.get("login-ip").limit
    return False


def login_attempted(request: HttpRequest | None) -> None:
    if request is not None:
        ratelimit.hit(ratelimit.get("login-ip"), ratelimit.client_ip(request))


def login_failed(email: str | None) -> None:
    key = _account_key(email)
    if ratelimit.hit(ratelimit.get("login-account"), key) >= ratelimit.get("login-account").limit:
        ratelimit.lock("login-account", key)


@receiver(user_login_failed)
def _on_login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kw: Any) -> None:
    login_failed(credentials.get("username") or credentials.get("email"))
    # Only failures count against an address: a practice behind one NAT signs in many times a day.
    login_attempted(request)


@receiver(user_logged_in)
def _on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    ratelimit.reset("login-account", _account_key(getattr(user, "email", "")))


class ThrottledModelBackend(ModelBackend):
    """ModelBackend that does not even check the password while the email or the IP is locked out."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        email = username or kwargs.get("email")
        if login_blocked(request, email):
            raise PermissionDenied  # stops authenticate(); user_login_failed is still sent
        return super().authenticate(request, username=username, password=password, **kwargs)


class ThrottledLoginFormMixin(forms.Form):
    """For AuthenticationForm subclasses: a clear lockout message instead of "wrong password"."""

    request: HttpRequest | None

    def clean(self) -> dict[str, Any]:
        email = self.data.get("username")
        if login_blocked(self.request, email if isinstance(email, str) else None):
            # Count it anyway, so hammering a locked account keeps it locked.
            login_failed(email if isinstance(email, str) else None)
            raise forms.ValidationError(LOCKED_MESSAGE, code="locked")
        return super().clean() or {}
