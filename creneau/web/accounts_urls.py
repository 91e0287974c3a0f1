"""Account pages: /accounts/… (namespace `accounts`, unchanged since they lived in the accounts app)."""

from django.urls import path

from creneau.core.ratelimit import ratelimit

from . import accounts_views as views
from . import passkey_views, password_views, security_views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("signup/", ratelimit("signup-ip")(views.signup), name="signup"),
    path("verify/<str:uidb64>/<str:token>/", views.verify, name="verify"),
    path("signout-everywhere/", views.signout_everywhere, name="signout_everywhere"),
    # Second factor and re-authentication (security_views)
    path("two-step/", security_views.mfa_verify, name="mfa_verify"),
    path("two-step/setup/", security_views.mfa_setup, name="mfa_setup"),
    path("two-step/manage/", security_views.mfa_manage, name="mfa_manage"),
    path("two-step/recovery-codes/", security_views.mfa_recovery_codes, name="mfa_recovery_codes"),
    path("two-step/disable/", security_views.mfa_disable, name="mfa_disable"),
    path("confirm-it-is-you/", security_views.reauth, name="reauth"),
    # Passkeys (passkey_views): the holder's list, adding and removing, and the WebAuthn ceremonies.
    path("passkeys/", passkey_views.passkeys_page, name="passkeys"),
    path("passkeys/options/", passkey_views.passkey_register_options, name="passkey_register_options"),
    path("passkeys/add/", passkey_views.passkey_register, name="passkey_register"),
    path("passkeys/<str:passkey_id>/remove/", passkey_views.passkey_remove, name="passkey_remove"),
    path("two-step/passkey/options/", passkey_views.passkey_check_options, name="passkey_check_options"),
    path("two-step/passkey/", passkey_views.passkey_check, name="passkey_check"),
    path("passkey/options/", passkey_views.passkey_login_options, name="passkey_login_options"),
    path("passkey/sign-in/", passkey_views.passkey_login, name="passkey_login"),
    # Forgotten and changed passwords (password_views)
    path("password/reset/", password_views.password_reset, name="password_reset"),
    path("password/reset/sent/", password_views.password_reset_done, name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", password_views.password_reset_confirm, name="password_reset_confirm"),
    path("password/reset/done/", password_views.password_reset_complete, name="password_reset_complete"),
    path("password/change/", password_views.password_change, name="password_change"),
    path("password/change/done/", password_views.password_change_done, name="password_change_done"),
]
