"""Operator page for incidents: the scope computed from the audit trail and the Art. 33 draft."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from creneau.core.actors import Actor

from .models import Incident
from .services import authority_report, incident_notify_patients, incident_refresh_scope, incident_update


def _operator(request: HttpRequest) -> Actor:
    return Actor.for_operator(request.user, ip=request.META.get("REMOTE_ADDR"))  # type: ignore[arg-type]


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

    def save_model(self, request: HttpRequest, obj: Incident, form: Any, change: bool) -> None:
        """Status and summary changes go through the service (audited), not a bare save."""
        incident_update(actor=_operator(request), incident_id=obj.pk, status=obj.status, summary=obj.summary)

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
            incident_refresh_scope(actor=_operator(request), incident_id=incident.pk)
        messages.success(request, _("Scope recomputed."))

    @admin.action(description=_("Notify the affected patients (GDPR Art. 34)"))
    def notify_patients(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        total = sum(
            incident_notify_patients(actor=_operator(request), incident_id=incident.pk) for incident in queryset
        )
        messages.success(request, _("%(count)d messages queued.") % {"count": total})
