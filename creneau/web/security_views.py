"""Second-factor pages (set up, verify, manage) and re-authentication. Thin: logic lives in `mfa`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from creneau.accounts import mfa, passkeys, services, throttle
from creneau.accounts.actors import account_actor
from creneau.accounts.middleware import SESSION_ENROLLED
from creneau.accounts.reauth import mark_authenticated_now, recent_auth_required
from creneau.core.errors import DomainError

PENDING_SECRET = "mfa_pending_secret"


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Security code"),
        max_length=20,
        help_text=mfa.MFA_CODE_HELP,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}),
    )


class ReauthForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, user: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.request = request
        if mfa.has_mfa(user):
            self.fields["code"] = CodeForm.base_fields["code"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password = data.get("password", "")
        try:
            # The same reserved, per-source limits as the sign-in page.
            confirmed = throttle.checked(
                self.request, self.user.email, lambda: self.user if self.user.check_password(password) else None
            )
        except PermissionDenied:
            raise forms.ValidationError(throttle.LOCKED_MESSAGE, code="locked") from None
        if confirmed is None:
            raise forms.ValidationError(_("This password is not correct."), code="wrong")
        code = data.get("code", "")
        if "code" in self.fields and not services.mfa_code_check(
            actor=account_actor(self.request, self.user) if self.request is not None else mfa.holder_actor(self.user),
            user=self.user,
            code=code,
            source=mfa.source_of(self.request),
        ):
            raise forms.ValidationError(_("This security code is not valid. Try the next one."), code="wrong_code")
        return data


def _next(request: HttpRequest, default: str = "web:account") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return reverse(default)


@login_required
def reauth(request: HttpRequest) -> HttpResponse:
    """Confirm it is really you (password, and second factor if set) before a sensitive change."""
    form = ReauthForm(request.POST or None, user=request.user, request=request)
    if request.method == "POST" and form.is_valid():
        mark_authenticated_now(request)
        if "code" in form.fields:
            mfa.mark_verified(request)
        return redirect(_next(request))
    context = {"form": form, "next": _next(request), "has_passkey": passkeys.has_passkey(request.user)}
    return render(request, "accounts/reauth.html", context)


@login_required
def mfa_verify(request: HttpRequest) -> HttpResponse:
    """The step after the password for accounts with a second factor: a code, or a passkey. When one
    of the account's organizations requires passkeys, only a passkey passes (or adding one, after
    the code, for an account that has none yet)."""
    user = request.user
    need_passkey = passkeys.passkeys_required_for(user)
    if mfa.is_verified(request) and (not need_passkey or passkeys.verified_with_passkey(request)):
        return redirect(_next(request))
    has_passkey = passkeys.has_passkey(user)
    if need_passkey and not has_passkey and (mfa.is_verified(request) or not mfa.has_mfa(user)):
        return redirect(f"{reverse('accounts:passkeys')}?{urlencode({'next': _next(request)})}")
    if not passkeys.has_second_factor(user):
        return redirect("accounts:mfa_setup")
    codes = mfa.has_mfa(user) and not (need_passkey and has_passkey)
    form = CodeForm(request.POST or None)
    context = {
        "form": form,
        "next": _next(request),
        "codes": codes,
        "has_passkey": has_passkey,
        "required": need_passkey,
    }
    if request.method == "POST" and not codes:
        form.is_valid()
        form.add_error(None, _("Your organization requires a passkey: use it to continue."))
        return render(request, "accounts/mfa_verify.html", context, status=400)
    if request.method == "POST" and form.is_valid():
        if services.mfa_code_check(
            actor=account_actor(request),
            user=request.user,  # type: ignore[arg-type]  # login_required
            code=form.cleaned_data["code"],
            source=mfa.source_of(request),
        ):
            mfa.mark_verified(request)
            request.session[passkeys.SESSION_METHOD] = "code"
            return redirect(_next(request))
        if mfa.limited(request.user, mfa.source_of(request)):
            form.add_error(None, _("Too many attempts. Please wait 5 minutes and try again."))
        else:
            form.add_error("code", _("This security code is not valid. Try the next one."))
    return render(request, "accounts/mfa_verify.html", context)


def _qr_svg(uri: str) -> str:
    # segno writes plain SVG paths (no script, no style attribute): safe inline under the strict CSP.
    return mark_safe(segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff"))  # noqa: S308


def _setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    secret = request.session.get(PENDING_SECRET)
    if not secret or request.method == "GET":
        secret = mfa.new_secret()
        request.session[PENDING_SECRET] = secret
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.mfa_enable(
            actor=account_actor(request),
            user=user,  # type: ignore[arg-type]  # login_required
            secret=secret,
            code=form.cleaned_data["code"],
        )
        if codes is not None:
            request.session.pop(PENDING_SECRET, None)
            request.session[SESSION_ENROLLED] = True
            mfa.mark_verified(request)
            return render(request, "accounts/mfa_recovery_codes.html", {"codes": codes, "next": _next(request)})
        form.add_error("code", _("This code does not match. Check your phone's clock and type the current code."))
    uri = mfa.provisioning_uri_for(secret, getattr(user, "email", ""))
    context = {
        "form": form,
        "qr": _qr_svg(uri),
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "required": mfa.mfa_required_for(user),
        "next": _next(request),
    }
    return render(request, "accounts/mfa_setup.html", context)


@login_required
def mfa_setup(request: HttpRequest) -> HttpResponseBase:
    """Add an authenticator app. Replacing an existing one is a sensitive change: re-authenticate first."""
    if mfa.has_mfa(request.user):
        return recent_auth_required(_setup)(request)
    return _setup(request)


@recent_auth_required
def mfa_manage(request: HttpRequest) -> HttpResponse:
    context = {
        "has_passkey": passkeys.has_passkey(request.user),
        "has_mfa": mfa.has_mfa(request.user),
        "required": mfa.mfa_required_for(request.user),
        "remaining": mfa.remaining_recovery_codes(request.user),
    }
    return render(request, "accounts/mfa_manage.html", context)


@require_POST
@recent_auth_required
def mfa_recovery_codes(request: HttpRequest) -> HttpResponse:
    codes = services.recovery_codes_regenerate(actor=account_actor(request), user=request.user)  # type: ignore[arg-type]
    return render(request, "accounts/mfa_recovery_codes.html", {"codes": codes, "next": _next(request)})


@require_POST
@recent_auth_required
def mfa_disable(request: HttpRequest) -> HttpResponse:
    try:
        services.mfa_disable(actor=account_actor(request), user=request.user)  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("accounts:mfa_manage")
    request.session.pop(mfa.SESSION_VERIFIED, None)
    request.session[SESSION_ENROLLED] = False
    messages.success(request, _("Two-step verification is off."))
    return redirect("accounts:mfa_manage")
