"""Operators see grants read-only: granting and revoking belong to each organization's admins."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import ApiGrant


@admin.register(ApiGrant)
class ApiGrantAdmin(admin.ModelAdmin[ApiGrant]):
    list_display = ("application", "organization", "scopes", "created_at", "revoked_at")
    list_filter = ("revoked_at",)
    list_select_related = ("application", "organization")
    readonly_fields = ("application", "organization", "scopes", "granted_by", "revoked_at", "revoked_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
