"""Admin pages of the sync's health: alert rules (thresholds) and alerts (acknowledge)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from unfold.admin import ModelAdmin

from storesync.health import alerts
from storesync.health.models import Alert, AlertRule


@admin.register(AlertRule)
class AlertRuleAdmin(ModelAdmin):
    list_display = ["name", "key", "threshold", "window_minutes", "enabled"]
    list_editable = ["threshold", "window_minutes", "enabled"]
    readonly_fields = ["key"]

    def has_add_permission(self, request) -> bool:
        return False  # the rules are the spec's conditions; each is measured by code (storesync/health/alerts.py)


@admin.register(Alert)
class AlertAdmin(ModelAdmin):
    list_display = [
        "rule",
        "store",
        "status",
        "value",
        "threshold",
        "opened_at",
        "resolved_at",
        "acknowledged_at",
        "acknowledged_by",
    ]
    list_filter = ["status", "rule", ("acknowledged_at", admin.EmptyFieldListFilter)]
    readonly_fields = [f.name for f in Alert._meta.fields]
    actions = ["acknowledge"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Acknowledge", permissions=["change"])
    def acknowledge(self, request, queryset):
        count = 0
        for alert in queryset.filter(acknowledged_at__isnull=True):
            alerts.acknowledge(alert, request.user)
            count += 1
        self.message_user(request, f"{count} alerts acknowledged at {timezone.now():%H:%M}.", messages.SUCCESS)
