"""Bulk exports of an organization's data (e.g. at the end of a contract): the flow that leaked
152,808 records in 2026 elsewhere, made privileged, four-eyes, encrypted and traceable here."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from creneau.core.models import PublicModel


class ExportStatus(models.TextChoices):
    REQUESTED = "requested", _("Awaiting a second administrator")
    READY = "ready", _("Ready to download")
    REJECTED = "rejected", _("Rejected")


class BulkExport(PublicModel):
    organization = models.ForeignKey("directory.Organization", on_delete=models.PROTECT, related_name="exports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.REQUESTED)
    reason = models.CharField(_("reason"), max_length=200)
    recipient = models.CharField(_("recipient"), max_length=200)
    # The recipient's RSA public key (PEM): the file is readable by its private key only.
    recipient_public_key = models.TextField(_("recipient public key (PEM)"))
    approved_at = models.DateTimeField(null=True, blank=True)
    # Unique decoy identity planted in this export only: finding it in a leak names the export.
    marker = models.CharField(max_length=32, unique=True)
    sha256 = models.CharField(max_length=64, blank=True)
    patient_count = models.PositiveIntegerField(default=0)
    appointment_count = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"export {self.pk}"
