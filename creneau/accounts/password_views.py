"""Password reset (forgotten password) and change, on Django's auth views with creneau's safeguards:

- reset: rate limited per client IP and per email; the same "check your email" page whether or not the
  address has an account (Django's view never says); a completed reset lifts a sign-in lockout;
- change: only right after typing the password again (`recent_auth_required`, ASVS 7.5.1);
- new passwords go through AUTH_PASSWORD_VALIDATORS (breached list, strength)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import reverse_lazy

from creneau.core import ratelimit
from creneau.notifications.services import notify_password_changed

from . import throttle
from .models import User
from .reauth import recent_auth_required


class ThrottledPasswordResetForm(auth_forms.PasswordResetForm):
    def get_users(self, email: str) -> Any:
        # Emails are encrypted: find the account through the blind index (Django's version filters the column).
        return (u for u in User.objects.by_email(email).filter(is_active=True) if u.has_usable_password())

    def send_mail(self, *args: Any, **kwargs: Any) -> None:
        # Silently drop mails past the per-address limit: the page must look the same either way.
        if ratelimit.allow(ratelimit.get("password-reset-account"), self.cleaned_data["email"].strip().casefold()):
            super().send_mail(*args, **kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    form_class = ThrottledPasswordResetForm
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        throttle.lift(self.request, form.user.email)
        notify_password_changed(user=form.user)
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        notify_password_changed(user=form.user)
        return response


password_reset = ratelimit.ratelimit("password-reset-ip")(PasswordResetView.as_view())
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html")
password_reset_confirm = PasswordResetConfirmView.as_view()
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)
password_change = recent_auth_required(PasswordChangeView.as_view())
password_change_done = recent_auth_required(
    auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_change_done.html")
)
