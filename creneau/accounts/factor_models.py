"""The second-factor tables of accounts: authenticator apps, recovery codes, passkeys and passkey
challenges. Models only (accounts.models imports them so Django registers them); what they mean and how
they are checked is in `mfa` and `passkeys`, which import the models they need without a cycle."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy

from creneau.core.crypto.fields import EncryptedCharField
from creneau.core.models import PublicModel

NAME_MAX = 60  # a passkey's name


class MFADevice(PublicModel):
    """One authenticator app per account. Unconfirmed until the user types a first valid code."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_device")
    secret = EncryptedCharField(max_length=64)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"mfa device {self.pk}"


class RecoveryCode(PublicModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"recovery code {self.pk}"


class Purpose(models.TextChoices):
    REGISTER = "register", gettext_lazy("add a passkey")
    SECOND_FACTOR = "second_factor", gettext_lazy("second step of a sign-in")
    REAUTH = "reauth", gettext_lazy("confirm it is you")
    SIGN_IN = "sign_in", gettext_lazy("sign in")


class Passkey(PublicModel):
    """One WebAuthn credential of an account: what is needed to check its assertions, nothing secret."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(gettext_lazy("name"), max_length=NAME_MAX)
    # base64url of the credential id the authenticator chose (at most 1023 bytes).
    credential_id = models.CharField(max_length=1400, unique=True)
    public_key = models.BinaryField()  # COSE key
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True, default="")
    backed_up = models.BooleanField(default=False)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"passkey {self.pk}"


class PasskeyChallenge(PublicModel):
    """A challenge handed to a browser, kept only as its SHA-256 until used once or expired."""

    challenge_hash = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"passkey challenge {self.pk}"
