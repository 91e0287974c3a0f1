"""Accounts: one user model for patients and staff; staff rights come from per-organization memberships."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils.translation import gettext_lazy as _

from creneau.core.crypto.blind import blind_index
from creneau.core.crypto.fields import BlindIndexField, EncryptedEmailField
from creneau.core.models import PublicModel


class UserManager(BaseUserManager["User"]):
    """Emails are encrypted: look accounts up through the email blind index, never by the column."""

    def by_email(self, email: str) -> models.QuerySet[User]:
        return self.filter(email_bidx=blind_index("email", email or ""))

    def get_by_natural_key(self, username: str | None) -> User:
        return self.by_email(username or "").get()

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin, PublicModel):
    """A person who signs in. `is_staff` means platform operator (Django admin), not practice staff."""

    # Encrypted like patient identities (the login email is personal data too); uniqueness and sign-in
    # lookups go through the blind index of the normalized (case-folded) address.
    email = EncryptedEmailField(_("email address"))
    email_bidx = BlindIndexField(kind="email", sources=["email"], unique=True, null=False, blank=False)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    language = models.CharField(_("language"), max_length=8, default="fr")

    objects = UserManager()
    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return f"user {self.pk}"


class Role(models.TextChoices):
    PRACTITIONER = "practitioner", _("Practitioner")
    SECRETARY = "secretary", _("Secretary")
    ORG_ADMIN = "org_admin", _("Organization admin")


class Membership(PublicModel):
    """A user's role in one organization: the unit of every staff permission check."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey("directory.Organization", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    # For role=practitioner: which practitioner profile this account is.
    practitioner = models.ForeignKey(
        "directory.Practitioner", null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "role"], name="membership_unique_role"),
            models.CheckConstraint(
                condition=~models.Q(role="practitioner") | models.Q(practitioner__isnull=False),
                name="membership_practitioner_has_profile",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} @ {self.organization_id}"


class AgendaAccess(PublicModel):
    """What one staff member may do on one agenda of an organization they belong to, beyond what their
    role gives (a practitioner holds every right on their own agenda, an organization admin on all of
    the organization's). Granted and changed by the organization's admins (`accounts.team`)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="agenda_accesses")
    agenda = models.ForeignKey("directory.Agenda", on_delete=models.CASCADE, related_name="accesses")
    can_view = models.BooleanField(_("see the agenda"), default=True)
    can_book = models.BooleanField(_("book, move, cancel, mark"), default=False)
    can_manage = models.BooleanField(_("manage visit reasons, hours and absences"), default=False)
    # Forcing a booking over another or outside hours is its own right, granted by the admins.
    can_force = models.BooleanField(_("force bookings"), default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "agenda"], name="agenda_access_unique"),
            # Booking or managing an agenda one cannot see makes no sense.
            models.CheckConstraint(
                condition=models.Q(can_view=True)
                | (models.Q(can_book=False) & models.Q(can_manage=False) & models.Q(can_force=False)),
                name="agenda_access_view_first",
            ),
        ]

    def __str__(self) -> str:
        return f"access {self.user_id} on {self.agenda_id}"


class InvitationState(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    REVOKED = "revoked", _("Withdrawn")
    EXPIRED = "expired", _("Expired")


class Invitation(PublicModel):
    """An organization admin's invitation of one e-mail address to join the team with a role and
    per-agenda rights (`accounts.team`). The link's token is stored only as its SHA-256: a copy of the
    database cannot be turned into a working link. Used at most once; expires; can be withdrawn."""

    organization = models.ForeignKey("directory.Organization", on_delete=models.CASCADE, related_name="invitations")
    # Encrypted like every login address; pending invitations are looked up through the blind index.
    email = EncryptedEmailField(_("email address"))
    email_bidx = BlindIndexField(kind="email", sources=["email"], null=False, blank=False)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    practitioner = models.ForeignKey(
        "directory.Practitioner", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # {agenda id: {"view": bool, "book": bool, "manage": bool}}, checked against the organization's
    # agendas when created and again when accepted.
    rights = models.JSONField(default=dict, blank=True)
    language = models.CharField(_("language"), max_length=8, default="fr")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField(_("expires at"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(role="practitioner") | models.Q(practitioner__isnull=False),
                name="invitation_practitioner_has_profile",
            ),
        ]

    def __str__(self) -> str:
        return f"invitation {self.pk}"

    def state(self, now: Any) -> InvitationState:
        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if self.expires_at <= now:
            return InvitationState.EXPIRED
        return InvitationState.PENDING


# Second-factor models live in their own module; imported here so Django registers them.
from .factor_models import MFADevice, Passkey, PasskeyChallenge, RecoveryCode  # noqa: E402, F401
