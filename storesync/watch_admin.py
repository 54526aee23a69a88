"""Admin pages of the watched sync: webhook deliveries (attempts inline, redeliver), inbound
notifications, alert rules (thresholds) and alerts (acknowledge)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone

from storesync import alerts, webhooks_out
from storesync.watch_models import Alert, AlertRule, InboundWebhook, WebhookAttempt, WebhookDelivery


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "attempted_at", "url", "status_code", "latency_ms", "success", "error", "response_body"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "msg_id",
        "event_type",
        "store",
        "target",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "target", "event_type"]
    search_fields = ["msg_id", "event_type", "store__code", "store__name"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [AttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Redeliver (same delivery id, a new round of attempts)", permissions=["change"])
    def redeliver(self, request, queryset):
        count = webhooks_out.redeliver(queryset)
        self.message_user(request, f"{count} deliveries sent again; pending ones were left alone.", messages.SUCCESS)


@admin.register(InboundWebhook)
class InboundWebhookAdmin(admin.ModelAdmin):
    list_display = ["webhook_id", "store", "event_type", "status", "job", "sent_at", "received_at"]
    list_filter = ["status", "entity_type"]
    search_fields = ["webhook_id", "store__code"]
    readonly_fields = [f.name for f in InboundWebhook._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "threshold", "window_minutes", "enabled"]
    list_editable = ["threshold", "window_minutes", "enabled"]
    readonly_fields = ["key"]

    def has_add_permission(self, request) -> bool:
        return False  # the rules are the spec's conditions; each is measured by code (storesync/alerts.py)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
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
