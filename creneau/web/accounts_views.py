"""Sign in, sign up with email verification, sign out (here or everywhere).

Kept on Django's auth views and forms so that stronger hashing, MFA and rate limits can hook in; every
write is a service of `accounts.services` (audited, messages through the outbox)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creneau.accounts import devices, services
from creneau.accounts.actors import account_actor, anonymous_actor
from creneau.accounts.forms import ConfirmPasswordForm, LoginForm, SignupForm
from creneau.accounts.models import User

NEXT_KEY = "accounts_next"


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        """Sign in; a browser this account never used gets its owner a "new sign-in" message."""
        user = form.get_user()
        new_device = not devices.seen_here(self.request, user.pk)
        response = super().form_valid(form)
        services.account_sign_in_record(actor=account_actor(self.request, user), user=user, new_device=new_device)
        devices.remember(self.request, response, user.pk)
        return response

    def get_default_redirect_url(self) -> str:
        """Practice staff land on their agenda list, patients on their appointments."""
        user = self.request.user
        if user.is_authenticated and user.memberships.exists():
            return reverse("web:staff_home")
        return reverse("web:account")


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return reverse("web:account")


def signup(request: HttpRequest) -> HttpResponse:
    """Create an inactive account and have a verification link e-mailed (the link signs the user in).

    The same page, and the same work, whether or not the address already has an account
    (`services.account_signup`): the page never tells, nor does its timing."""
    if request.user.is_authenticated:
        return redirect("web:account")
    next_url = request.POST.get("next") or request.GET.get("next")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        safe_next = _safe_next(request, next_url)
        request.session[NEXT_KEY] = safe_next
        services.account_signup(
            actor=anonymous_actor(request),
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            language=(request.LANGUAGE_CODE or "fr")[:2],
            # The link may be opened on another device (another session): it carries where to go next
            # (e.g. the booking of the time chosen before signing up; no personal data).
            next_url=next_url if next_url and safe_next == next_url else "",
        )
        return render(request, "accounts/check_email.html", {"email": form.cleaned_data["email"]})
    return render(request, "accounts/signup.html", {"form": form, "next": next_url or ""})


def verify(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Activate the account from the e-mailed link (single use: signing in changes the token)."""
    user = services.account_email_verify(actor=anonymous_actor(request), uidb64=uidb64, token=token)
    if user is None:
        return render(request, "accounts/verify_failed.html", status=400)
    login(request, user, backend="creneau.accounts.throttle.ThrottledModelBackend")
    messages.success(request, _("Your email address is confirmed. Welcome!"))
    return redirect(_safe_next(request, request.session.pop(NEXT_KEY, None) or request.GET.get("next")))


@login_required
def signout_everywhere(request: HttpRequest) -> HttpResponse:
    """End every session of this account, on every device, after confirming the password."""
    user: User = request.user  # type: ignore[assignment]
    form = ConfirmPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        services.account_sign_out_everywhere(
            actor=account_actor(request), user=user, password=form.cleaned_data["password"]
        )
        logout(request)
        messages.success(request, _("You are signed out on every device."))
        return redirect("accounts:login")
    return render(request, "accounts/signout_everywhere.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if isinstance(request.user, User):
        services.account_sign_out(actor=account_actor(request), user=request.user)
    logout(request)
    return redirect("web:home")
