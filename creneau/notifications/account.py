"""Account and security messages: handlers of the accounts app's domain events.

accounts sits below notifications and must not import it: its services `emit("account.…", user_id=…)`
and `settings.CRENEAU_EVENT_HANDLERS` routes each event here. Each handler queues an outbox message in
the emitter's transaction (identifiers in, the address read from the account here).

Links that are secrets (e-mail verification, password reset, team invitations) are never stored: the stored body carries
the link with `SECRET` in place of the token, and `secret_links.with_secret_link` puts a fresh token in when the
message leaves (`outbox._send`). A copy of the outbox (database dump, `dumpdata`, the account's message
list) holds no usable link; the token is Django's, bound to the account's state, so it still dies when the
password changes or the account signs in."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from creneau.accounts.models import User
from creneau.core import clock

from . import outbox
from .models import Kind, MessageChannel
from .rendering import language_of, page_url
from .secret_links import SECRET
from .services import notify_mfa_changed, notify_new_login, notify_password_changed, recipient_for_user


def _user(user_id: uuid.UUID) -> User:
    return User.objects.get(pk=user_id)


def _link(user: User, name: str, query: str = "") -> str:
    """An absolute link to one of our pages in the recipient's language, the token left as SECRET."""
    with translation.override(language_of(user.language)):
        url = page_url(name, urlsafe_base64_encode(force_bytes(user.pk)), SECRET)
    return url + (f"?{query}" if query else "")


def _queue(user: User, kind: Kind, context: dict[str, object]) -> None:
    outbox.queue(
        kind=kind,
        recipient=recipient_for_user(user),
        context={"when": clock.now(), **context},
        dedup=f"{kind}:{user.pk}:{uuid.uuid4()}",
        channels=[MessageChannel.EMAIL],
    )


def on_signup_requested(*, user_id: uuid.UUID, next_url: str = "") -> None:
    """The verification link of a new account (carrying where to go next, no personal data)."""
    user = _user(user_id)
    _queue(
        user,
        Kind.ACCOUNT_VERIFICATION,
        {"link": _link(user, "accounts:verify", urlencode({"next": next_url}) if next_url else "")},
    )


def on_signup_existing(*, user_id: uuid.UUID) -> None:
    """Someone signed up with this account's address: tell its owner (the page said nothing)."""
    user = _user(user_id)
    with translation.override(language_of(user.language)):
        login_url = page_url("accounts:login")
    _queue(user, Kind.ACCOUNT_EXISTS, {"login_url": login_url})


def on_password_reset_requested(*, user_id: uuid.UUID) -> None:
    user = _user(user_id)
    _queue(user, Kind.PASSWORD_RESET, {"link": _link(user, "accounts:password_reset_confirm")})


def on_password_changed(*, user_id: uuid.UUID) -> None:
    notify_password_changed(user=_user(user_id))


def on_mfa_changed(*, user_id: uuid.UUID) -> None:
    notify_mfa_changed(user=_user(user_id))


def on_new_login(*, user_id: uuid.UUID) -> None:
    notify_new_login(user=_user(user_id))


def on_passkey_changed(*, user_id: uuid.UUID, change: str) -> None:
    """A passkey was added to or removed from the account: its owner is told (e-mail)."""
    _queue(_user(user_id), Kind.SECURITY_PASSKEY_CHANGED, {"added": change == "added"})
