"""Password reset (forgotten password) and change, on Django's auth views with creneau's safeguards:

- reset: rate limited per client IP and per email; the same "check your email" page, after the same
  work, whether or not the address has an account (`services.password_reset_request` only enqueues a
  task: the lookup and the message happen in the worker); a completed reset lifts a sign-in lockout;
- change: only right after typing the password again (`recent_auth_required`, ASVS 7.5.1);
- new passwords go through AUTH_PASSWORD_VALIDATORS (breached list, strength);
- every write is an audited service (`accounts.services`), its notice queued in the outbox."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse_lazy

from creneau.accounts import services, throttle
from creneau.accounts.actors import account_actor, anonymous_actor
from creneau.accounts.reauth import recent_auth_required
from creneau.core import ratelimit


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        # Not Django's form.save(): it looks the account up and sends the mail inside the request.
        services.password_reset_request(actor=anonymous_actor(self.request), email=form.cleaned_data["email"])
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.user
        services.password_reset_complete(
            actor=account_actor(self.request, user), user=user, new_password=form.cleaned_data["new_password1"]
        )
        del self.request.session[INTERNAL_RESET_SESSION_TOKEN]
        throttle.lift(self.request, user.email)
        return HttpResponseRedirect(self.get_success_url())


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        services.password_change(
            actor=account_actor(self.request), user=form.user, new_password=form.cleaned_data["new_password1"]
        )
        update_session_auth_hash(self.request, form.user)
        return HttpResponseRedirect(self.get_success_url())


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
