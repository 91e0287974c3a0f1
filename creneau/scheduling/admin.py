"""Agendas in the admin. Changes here bypass the services: prefer the practice pages; the index is
read-only (it is rebuilt by `refresh_availability`)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Absence, AvailabilityIndex, Motif, OpeningRule


@admin.register(Motif)
class MotifAdmin(admin.ModelAdmin):
    list_display = ("name", "practitioner", "duration_minutes", "audience", "bookable_online", "is_active")
    list_filter = ("audience", "channel", "bookable_online", "is_active")
    search_fields = ("name",)
    raw_id_fields = ("practitioner",)


@admin.register(OpeningRule)
class OpeningRuleAdmin(admin.ModelAdmin):
    list_display = ("practitioner", "site", "weekday", "start_time", "end_time", "valid_from", "valid_until")
    list_filter = ("weekday",)
    raw_id_fields = ("practitioner", "site")
    filter_horizontal = ("motifs",)


@admin.register(Absence)
class AbsenceAdmin(admin.ModelAdmin):
    list_display = ("practitioner", "start_at", "end_at", "label")
    raw_id_fields = ("practitioner",)
    date_hierarchy = "start_at"


@admin.register(AvailabilityIndex)
class AvailabilityIndexAdmin(admin.ModelAdmin):
    list_display = ("practitioner", "motif", "site", "next_start", "computed_at")
    readonly_fields = ("practitioner", "motif", "site", "next_start", "starts", "computed_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
