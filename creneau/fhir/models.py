"""Grants: an organization lets one API client act on its data, with chosen scopes, until revoked.

An API client (a django-oauth-toolkit `Application`) sees nothing by default; every request is
filtered to the organizations whose active grant allows what it asks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings

from creneau.core.crypto.fields import EncryptedCharField
from creneau.core.models import PublicModel


class ApiGrantQuerySet(models.QuerySet["ApiGrant"]):
    def active(self) -> ApiGrantQuerySet:
        return self.filter(revoked_at__isnull=True, organization__is_active=True)


class ApiGrant(PublicModel):
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="creneau_grants"
    )
    organization = models.ForeignKey("directory.Organization", on_delete=models.CASCADE, related_name="api_grants")
    # Space-separated SMART scopes (`system/Slot.rs system/Appointment.cruds`).
    scopes = models.TextField(_("scopes"))
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ApiGrantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["application", "organization"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_active_grant_per_client_and_org",
            )
        ]

    def __str__(self) -> str:
        return f"grant {self.pk}"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class ApiClientKey(PublicModel):
    """The public keys a client signs its authentication assertions with (private_key_jwt, SMART
    Backend Services): a registered JWKS, or the URL it publishes its JWKS at (`jwks_uri`, on an
    allow-listed host, fetched and cached: creneau.fhir.jwks). A client with keys has no shared secret."""

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="creneau_jwks"
    )
    jwks = models.JSONField(null=True, blank=True)
    jwks_uri = models.URLField(max_length=500, blank=True, default="")

    def __str__(self) -> str:
        return f"jwks {self.pk}"


class SubscriptionStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ACTIVE = "active", _("Active")
    ERROR = "error", _("Paused after failures")
    OFF = "off", _("Off")


class Subscription(PublicModel):
    """An API client's standing request to be told (FHIR R4 rest-hook) when an appointment of one agenda
    (a practitioner) or one site is booked, moved, cancelled or marked no-show, instead of polling.

    What is delivered is checked against the client's grants at each event: an organization that
    revoked its grant stops being reported at once. The signing secret is shown once at creation and
    kept encrypted (it must sign every notification); the endpoint is an HTTPS URL of the partner."""

    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="creneau_subscriptions"
    )
    # The criteria as sent (normalized), and the one filter they name.
    criteria = models.CharField(max_length=200)
    practitioner = models.ForeignKey(
        "directory.Practitioner", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    site = models.ForeignKey("directory.Site", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    endpoint = models.CharField(max_length=254)
    # "" : an empty body (the event and the appointment's id are in the signed headers); else the MIME type.
    payload = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=12, choices=SubscriptionStatus.choices, default=SubscriptionStatus.REQUESTED)
    # The last failure that paused it (an HTTP status or an error class, never the endpoint's answer).
    error = models.CharField(max_length=200, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    secret = EncryptedCharField(max_length=100)
    end = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["practitioner", "status"]),
            models.Index(fields=["site", "status"]),
            models.Index(fields=["application", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(practitioner__isnull=False, site__isnull=True)
                | models.Q(practitioner__isnull=True, site__isnull=False),
                name="subscription_one_filter",
            )
        ]

    def __str__(self) -> str:
        return f"subscription {self.pk}"
