"""Sign in, sign up with email verification, sign out (here or everywhere).

Kept on Django's auth views and forms so that stronger hashing, MFA and rate limits can hook in."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.encoding import force_bytes, force_str
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creneau.notifications.services import notify_new_login

from . import devices
from .forms import ConfirmPasswordForm, LoginForm, SignupForm
from .models import User

NEXT_KEY = "accounts_next"


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        """Sign in; a browser this account never used gets its owner a "new sign-in" message."""
        user = form.get_user()
        response = super().form_valid(form)
        if not devices.seen_here(self.request, user.pk):
            notify_new_login(user=user)
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
    """Create an inactive account and email a verification link; the link signs the user in."""
    if request.user.is_authenticated:
        return redirect("web:account")
    next_url = request.POST.get("next") or request.GET.get("next")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        existing = User.objects.by_email(form.cleaned_data["email"]).first()
        if existing is not None:
            # Same page as a new sign-up (no account enumeration); the owner learns of the attempt by email.
            send_mail(
                subject=_("Someone tried to create a creneau account with your address"),
                message=_(
                    "You already have a creneau account with this email address. To use it, sign in:\n\n"
                    "%(link)s\n\nIf this was not you, you can ignore this message: nothing has changed on your "
                    "account."
                )
                % {"link": request.build_absolute_uri(reverse("accounts:login"))},
                from_email=None,
                recipient_list=[existing.email],
            )
            return render(request, "accounts/check_email.html", {"email": form.cleaned_data["email"]})
        user = User.objects.create_user(form.cleaned_data["email"], form.cleaned_data["password1"], is_active=False)
        user.language = (request.LANGUAGE_CODE or "fr")[:2]
        user.save(update_fields=["language"])
        request.session[NEXT_KEY] = _safe_next(request, next_url)
        link = request.build_absolute_uri(
            reverse(
                "accounts:verify",
                kwargs={
                    "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                    "token": default_token_generator.make_token(user),
                },
            )
        )
        if next_url and request.session[NEXT_KEY] == next_url:
            # The link may be opened on another device (another session): it carries where to go
            # next (e.g. the booking of the time chosen before signing up; no personal data).
            link += "?" + urlencode({"next": next_url})
        send_mail(
            subject=_("Confirm your creneau account"),
            message=_(
                "Welcome to creneau.\n\nTo confirm your email address and finish creating your account, "
                "open this link:\n\n%(link)s\n\nIf you did not ask for an account, ignore this message."
            )
            % {"link": link},
            from_email=None,
            recipient_list=[user.email],
        )
        return render(request, "accounts/check_email.html", {"email": user.email})
    return render(request, "accounts/signup.html", {"form": form, "next": next_url or ""})


def verify(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Activate the account from the emailed link (single use: signing in changes the token)."""
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uidb64)))
    except (User.DoesNotExist, ValidationError, ValueError, TypeError, OverflowError):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        return render(request, "accounts/verify_failed.html", status=400)
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    login(request, user, backend="creneau.accounts.throttle.ThrottledModelBackend")
    messages.success(request, _("Your email address is confirmed. Welcome!"))
    return redirect(_safe_next(request, request.session.pop(NEXT_KEY, None) or request.GET.get("next")))


@login_required
def signout_everywhere(request: HttpRequest) -> HttpResponse:
    """End every session of this account, on every device, after confirming the password.

    The password is re-hashed with a fresh salt: every other session's auth hash stops matching."""
    user: User = request.user  # type: ignore[assignment]
    form = ConfirmPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        user.set_password(form.cleaned_data["password"])
        user.save(update_fields=["password"])
        logout(request)
        messages.success(request, _("You are signed out on every device."))
        return redirect("accounts:login")
    return render(request, "accounts/signout_everywhere.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:home")
