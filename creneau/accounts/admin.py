"""Operators manage accounts and memberships; email addresses (personal data) are read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Membership, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("organization", "practitioner")


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("id", "is_active", "is_staff", "language", "last_login")
    list_filter = ("is_active", "is_staff", "language")
    fields = ("email", "is_active", "is_staff", "is_superuser", "language", "last_login", "created_at")
    readonly_fields = ("email", "last_login", "created_at", "is_superuser")
    inlines = [MembershipInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts are created by sign-up or `createsuperuser`, never with a typed password here


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "organization", "role")
    list_filter = ("role",)
    raw_id_fields = ("user", "organization", "practitioner")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("user",) if obj is not None else ()
