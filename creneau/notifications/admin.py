"""Operators see the outbox (failures first) without message bodies or addresses."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import outbox
from .models import OutboundMessage


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin[OutboundMessage]):
    list_display = ("id", "kind", "channel", "status", "attempts", "send_after", "sent_at", "last_error")
    list_filter = ("status", "kind", "channel")
    ordering = ("-created_at",)
    fields = ("id", "kind", "channel", "status", "attempts", "send_after", "sent_at", "last_error", "provider_id")
    readonly_fields = fields
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Retry the selected failed messages"))
    def retry(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> None:
        count = outbox.retry_failed(queryset.values_list("pk", flat=True))
        self.message_user(request, _("%(count)d message(s) queued again.") % {"count": count}, messages.SUCCESS)
