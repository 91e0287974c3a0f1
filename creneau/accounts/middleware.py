"""Session security for signed-in users: second factor enforcement and the staff idle timeout."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from . import mfa, passkeys

# Pages a signed-in but not yet second-factor-verified user may reach (the passkey pages check
# `passkeys.may_enroll` themselves: a password alone never adds a factor beside an existing one).
EXEMPT = {
    "mfa_verify",
    "mfa_setup",
    "logout",
    "reauth",
    "passkeys",
    "passkey_register_options",
    "passkey_register",
    "passkey_check_options",
    "passkey_check",
}
SESSION_STAFF = "is_staff_member"
SESSION_SEEN = "last_seen"
SESSION_ENROLLED = "mfa_enrolled"
SESSION_PASSKEYS_REQUIRED = "passkeys_required"


class SessionSecurityMiddleware:
    """After AuthenticationMiddleware. For session-authenticated users:

    - staff (memberships, operators) idle longer than CRENEAU_STAFF_IDLE_SECONDS are signed out;
    - users with a second factor must pass it before anything else (`accounts:mfa_verify`);
    - staff without one must set it up first (`accounts:mfa_setup`), Django admin included;
    - staff of an organization that requires passkeys must pass the second step with a passkey, or
      add one first (`accounts:passkeys`), whatever other factor they have."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or SESSION_KEY not in request.session:
            return None  # anonymous, or authenticated by an API token rather than a session
        session = request.session
        if SESSION_STAFF not in session:
            session[SESSION_STAFF] = mfa.mfa_required_for(user)
        staff = bool(session[SESSION_STAFF])
        now = int(time.time())
        if staff and settings.CRENEAU_STAFF_IDLE_SECONDS:
            seen = session.get(SESSION_SEEN)
            if isinstance(seen, int) and now - seen > settings.CRENEAU_STAFF_IDLE_SECONDS:
                logout(request)
                messages.info(request, _("You were signed out after a period of inactivity. Please sign in again."))
                return HttpResponseRedirect(
                    f"{reverse('accounts:login')}?{urlencode({'next': request.get_full_path()})}"
                )
            if not isinstance(seen, int) or now - seen >= 30:  # write the session at most twice a minute
                session[SESSION_SEEN] = now
        match = request.resolver_match
        if match is not None and match.namespace == "accounts" and match.url_name in EXEMPT:
            return None
        if not settings.CRENEAU_MFA_ENFORCED:
            return None
        if SESSION_PASSKEYS_REQUIRED not in session:
            session[SESSION_PASSKEYS_REQUIRED] = passkeys.passkeys_required_for(user)
        need_passkey = bool(session[SESSION_PASSKEYS_REQUIRED])
        if mfa.is_verified(request):
            if not need_passkey or passkeys.verified_with_passkey(request):
                return None
            # Passed with a code, but the organization asks for a passkey: use one, or add one.
            target = "accounts:mfa_verify" if passkeys.has_passkey(user) else "accounts:passkeys"
            return HttpResponseRedirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        if SESSION_ENROLLED not in session:
            session[SESSION_ENROLLED] = passkeys.has_second_factor(user)
        if session[SESSION_ENROLLED]:
            target = "accounts:mfa_verify"
        elif need_passkey:
            target = "accounts:passkeys"
        elif staff:
            target = "accounts:mfa_setup"
        else:
            return None
        return HttpResponseRedirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
