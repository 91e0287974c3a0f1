"""Grants: an organization lets one API client act on its data, with chosen scopes, until revoked.

An API client (a django-oauth-toolkit `Application`) sees nothing by default; every request is
filtered to the organizations whose active grant allows what it asks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings

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
