"""Appointments in the admin: read-only (bookings change only through the services, which enforce
the rules and keep the availability index fresh)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from creneau.audit.admin_mixins import AuditedAdminMixin
from creneau.audit.services import Touched

from .models import Appointment


@admin.register(Appointment)
class AppointmentAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "practitioner", "start_at", "status", "source", "organization")
    audit_object_type = "appointment"

    def audit_touched(self, obj: Appointment) -> Touched:
        return Touched(obj.patient_id, obj.pk, obj.organization_id)

    list_filter = ("status", "source")
    date_hierarchy = "start_at"
    list_select_related = ("practitioner", "organization")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Appointment._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # view-only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
