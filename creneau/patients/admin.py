"""Patients in the admin: read-only. Identity fields are shown, never editable, and never listed or
searched (they are encrypted; a name in a changelist would also leak into screenshots and logs)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from creneau.audit.admin_mixins import AuditedAdminMixin
from creneau.audit.services import Touched

from .models import IDENTITY_FIELDS, Patient


@admin.register(Patient)
class PatientAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "relationship", "created_by_organization", "created_at")
    list_filter = ("relationship",)
    fields = ("id", *IDENTITY_FIELDS, "relationship", "account", "created_by_organization", "created_at")
    readonly_fields = fields
    audit_object_type = "patient"

    def audit_touched(self, obj: Patient) -> Touched:
        return Touched(patient_id=obj.pk, organization_id=obj.created_by_organization_id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # view-only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
