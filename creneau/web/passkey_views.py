"""Passkey pages and the JSON endpoints the browser's WebAuthn calls use (static/web/passkeys.js).

Thin: ceremonies are checked in `passkeys`, writes are the audited services `passkey_register` and
`passkey_remove`. Adding or removing a passkey needs a recent re-authentication; adding one beside an
existing factor needs that factor passed in this session (`passkeys.may_enroll`). A refused ceremony
answers 4xx with a translated message in JSON, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from creneau.accounts import devices, mfa, passkeys, services
from creneau.accounts.actors import account_actor
from creneau.accounts.middleware import SESSION_ENROLLED, SESSION_PASSKEYS_REQUIRED
from creneau.accounts.models import User
from creneau.accounts.reauth import mark_authenticated_now, recent_auth_required, recently_authenticated
from creneau.accounts.selectors import passkeys_of
from creneau.core.errors import DomainError
from creneau.core.ratelimit import ratelimit

from .security_views import _next

JsonView = Callable[..., HttpResponseBase]


def _refused(error: DomainError) -> JsonResponse:
    return JsonResponse({"error": str(error.message), "code": error.code}, status=error.http_status)


def _json_login_required(view: JsonView) -> JsonView:
    """Signed in, or a 403 in JSON (a browser's fetch cannot follow the sign-in page)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not isinstance(request.user, User):
            return JsonResponse(
                {"error": _("Please sign in again."), "redirect": reverse("accounts:login")}, status=403
            )
        return view(request, *args, **kwargs)

    return wrapped


def _enrolling(view: JsonView) -> JsonView:
    """Signed in, re-authenticated recently and allowed to add a factor (else 403 with where to go)."""

    @wraps(view)
    @_json_login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        back = reverse("accounts:passkeys")
        if not passkeys.may_enroll(request):
            target = f"{reverse('accounts:mfa_verify')}?{urlencode({'next': back})}"
            return JsonResponse(
                {"error": _("Pass the second step of your sign-in first."), "redirect": target}, status=403
            )
        if not recently_authenticated(request):
            target = f"{reverse('accounts:reauth')}?{urlencode({'next': back})}"
            return JsonResponse({"error": _("Please confirm it is you first."), "redirect": target}, status=403)
        return view(request, *args, **kwargs)

    return wrapped


@never_cache
@recent_auth_required
def passkeys_page(request: HttpRequest) -> HttpResponse:
    """The account's passkeys: add one, see when each was last used, remove one."""
    if not passkeys.may_enroll(request):
        return redirect(f"{reverse('accounts:mfa_verify')}?{urlencode({'next': request.get_full_path()})}")
    user: User = request.user  # type: ignore[assignment]  # recent_auth_required
    context = {
        "passkeys": passkeys_of(user),
        "required": passkeys.passkeys_required_for(user),
        "next": _next(request, "accounts:passkeys"),  # back here unless a page sent the person
    }
    return render(request, "accounts/passkeys.html", context)


@require_POST
@_enrolling
def passkey_register_options(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        passkeys.registration_options(request, request.user), content_type="application/json", headers=_NO_STORE
    )


@require_POST
@_enrolling
def passkey_register(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    try:
        new = passkeys.verify_registration(request, user, request.POST.get("credential", ""))
        services.passkey_register(actor=account_actor(request), user=user, new=new, name=request.POST.get("name", ""))
    except DomainError as error:
        return _refused(error)
    request.session[SESSION_ENROLLED] = True
    if not mfa.is_verified(request):  # the account's first factor: this session set it up
        passkeys.mark_verified(request)
    messages.success(request, _("Your passkey is added. You can use it at your next sign-in."))
    return JsonResponse({"redirect": _next(request, "accounts:passkeys")})


@require_POST
@recent_auth_required
def passkey_remove(request: HttpRequest, passkey_id: str) -> HttpResponse:
    try:
        services.passkey_remove(actor=account_actor(request), user=request.user, passkey_id=passkey_id)  # type: ignore[arg-type]
    except DomainError as error:
        if error.http_status == 404:  # another account's passkey answers like a missing one
            raise Http404(str(error.message)) from None
        messages.error(request, str(error.message))
        return redirect("accounts:passkeys")
    request.session.pop(SESSION_ENROLLED, None)
    messages.success(request, _("The passkey is removed: it no longer opens your account."))
    return redirect("accounts:passkeys")


_NO_STORE = {"Cache-Control": "no-store"}


def _purpose(request: HttpRequest) -> passkeys.Purpose:
    return passkeys.Purpose.REAUTH if request.POST.get("purpose") == "reauth" else passkeys.Purpose.SECOND_FACTOR


@require_POST
@_json_login_required
def passkey_check_options(request: HttpRequest) -> HttpResponse:
    """A challenge for one of the signed-in account's passkeys (second step, or confirming it is you)."""
    return HttpResponse(
        passkeys.authentication_options(request, _purpose(request), request.user),
        content_type="application/json",
        headers=_NO_STORE,
    )


@require_POST
@ratelimit("passkey-ip")
@_json_login_required
def passkey_check(request: HttpRequest) -> HttpResponse:
    """The second step of a sign-in, or a re-authentication, with one of the account's passkeys."""
    purpose = _purpose(request)
    user: User = request.user  # type: ignore[assignment]
    try:
        passkeys.verify_assertion(request, purpose, user, request.POST.get("credential", ""))
    except DomainError as error:
        return _refused(error)
    passkeys.mark_verified(request)
    if purpose == passkeys.Purpose.REAUTH:
        mark_authenticated_now(request)
    request.session.pop(SESSION_PASSKEYS_REQUIRED, None)
    return JsonResponse({"redirect": _next(request)})


@require_POST
@ratelimit("passkey-ip")
def passkey_login_options(request: HttpRequest) -> HttpResponse:
    """A challenge for signing in with any passkey of this site (the authenticator picks the account)."""
    return HttpResponse(
        passkeys.authentication_options(request, passkeys.Purpose.SIGN_IN, None),
        content_type="application/json",
        headers=_NO_STORE,
    )


@require_POST
@ratelimit("passkey-ip")
def passkey_login(request: HttpRequest) -> HttpResponse:
    """Sign in with a passkey alone: the authenticator verified its user (PIN or biometrics), so this
    counts as both steps, and as the passkey an organization may require."""
    try:
        passkey = passkeys.verify_assertion(request, passkeys.Purpose.SIGN_IN, None, request.POST.get("credential", ""))
    except DomainError as error:
        return _refused(error)
    user: User = passkey.user
    new_device = not devices.seen_here(request, user.pk)
    login(request, user, backend="creneau.accounts.throttle.ThrottledModelBackend")
    passkeys.mark_verified(request)
    services.passkey_sign_in_record(
        actor=account_actor(request, user), user=user, passkey=passkey, new_device=new_device
    )
    default = "web:staff_home" if user.memberships.exists() else "web:account"
    response = JsonResponse({"redirect": _next(request, default)})
    devices.remember(request, response, user.pk)
    return response
