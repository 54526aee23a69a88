"""Admin pages of the webhooks: deliveries (attempts inline, redeliver) and inbound notifications."""

from __future__ import annotations

from django.contrib import admin, messages
from unfold.admin import TabularInline

from config.admin import AuditRecordAdmin
from storesync.webhooks import outbound
from storesync.webhooks.models import InboundWebhook, WebhookAttempt, WebhookDelivery


class AttemptInline(TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "attempted_at", "url", "status_code", "latency_ms", "success", "error", "response_body"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(AuditRecordAdmin):
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

    @admin.action(description="Redeliver (same delivery id, a new round of attempts)", permissions=["change"])
    def redeliver(self, request, queryset):
        count = outbound.redeliver(queryset)
        self.message_user(request, f"{count} deliveries sent again; pending ones were left alone.", messages.SUCCESS)


@admin.register(InboundWebhook)
class InboundWebhookAdmin(AuditRecordAdmin):
    list_display = ["webhook_id", "store", "event_type", "status", "job", "sent_at", "received_at"]
    list_filter = ["status", "entity_type"]
    search_fields = ["webhook_id", "store__code"]
    readonly_fields = [f.name for f in InboundWebhook._meta.fields]
