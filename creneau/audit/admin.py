"""Operators browse the audit trail and alerts read-only: the admin can add nothing and change nothing."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEvent, DetectionAlert, SuspendedPrincipal


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnly):
    list_display = (
        "id",
        "at",
        "principal",
        "actor_kind",
        "action",
        "object_type",
        "outcome",
        "record_count",
        "channel",
    )
    list_filter = ("action", "outcome", "actor_kind", "channel")
    search_fields = ("principal", "api_client_id")
    date_hierarchy = "at"


@admin.register(DetectionAlert)
class DetectionAlertAdmin(ReadOnly):
    list_display = ("at", "principal", "rule", "severity", "measured", "threshold", "suspended")
    list_filter = ("rule", "severity", "suspended")


@admin.register(SuspendedPrincipal)
class SuspendedPrincipalAdmin(admin.ModelAdmin):
    """Deleting a row lifts the suspension (user accounts must also be reactivated)."""

    list_display = ("principal", "at", "reason")
