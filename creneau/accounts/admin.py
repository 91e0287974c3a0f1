"""Operators manage accounts and memberships; email addresses (personal data) are read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from creneau.core.actors import Actor

from . import services
from .models import Membership, User


def _operator(request: HttpRequest) -> Actor:
    return Actor.for_operator(request.user, ip=request.META.get("REMOTE_ADDR"))  # type: ignore[arg-type]


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

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        """Through the audited service (the form has already set the values on `obj`)."""
        values = {f: form.cleaned_data[f] for f in form.changed_data if f in services.OPERATOR_FIELDS}
        services.account_operator_update(actor=_operator(request), user=obj, values=values)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """The memberships inline: each added, changed or deleted row through the audited services."""
        actor = _operator(request)
        for membership in formset.save(commit=False):
            services.membership_operator_save(actor=actor, membership=membership)
        for membership in formset.deleted_objects:
            services.membership_operator_delete(actor=actor, membership=membership)

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        services.account_operator_delete(actor=_operator(request), user=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.account_operator_delete(actor=_operator(request), user=user)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "organization", "role")
    list_filter = ("role",)
    raw_id_fields = ("user", "organization", "practitioner")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("user",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        """Through the audited service (the form has already set the values on `obj`)."""
        services.membership_operator_save(actor=_operator(request), membership=obj)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_operator_delete(actor=_operator(request), membership=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset:
            services.membership_operator_delete(actor=_operator(request), membership=membership)
