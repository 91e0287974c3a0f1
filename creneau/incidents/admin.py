"""Operator page for incidents: the scope computed from the audit trail and the Art. 33 draft."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Incident
from .services import authority_report, incident_notify_patients, incident_refresh_scope


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("opened_at", "principal", "status", "opened_by", "patients", "appointments")
    list_filter = ("status",)
    readonly_fields = (
        "opened_at",
        "opened_by",
        "principal",
        "window_start",
        "window_end",
        "patients_notified_at",
        "scope_counts",
        "report",
    )
    fields = ("status", "summary", *readonly_fields)
    actions = ["recompute_scope", "notify_patients"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # opened by detection or `manage.py incident_scope --open`

    @admin.display(description=_("patients"))
    def patients(self, obj: Incident) -> int:
        return int(obj.scope.get("counts", {}).get("patients", 0))

    @admin.display(description=_("appointments"))
    def appointments(self, obj: Incident) -> int:
        return int(obj.scope.get("counts", {}).get("appointments", 0))

    @admin.display(description=_("scope"))
    def scope_counts(self, obj: Incident) -> Any:
        return obj.scope.get("counts", {})

    @admin.display(description=_("draft notification (GDPR Art. 33)"))
    def report(self, obj: Incident) -> str:
        return format_html("<pre>{}</pre>", authority_report(obj))

    @admin.action(description=_("Recompute the scope from the audit trail"))
    def recompute_scope(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        for incident in queryset:
            incident_refresh_scope(incident=incident)
        messages.success(request, _("Scope recomputed."))

    @admin.action(description=_("Notify the affected patients (GDPR Art. 34)"))
    def notify_patients(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        total = sum(incident_notify_patients(incident=incident) for incident in queryset)
        messages.success(request, _("%(count)d messages queued.") % {"count": total})
