"""Tables of the webhooks: inbound notifications, outbound deliveries and their attempts.
Imported by ``storesync.models`` (Django finds models there)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class InboundStatus(models.TextChoices):
    QUEUED = "queued", "Queued (a sync job was queued)"
    HELD = "held", "Held (the store's sync is paused)"
    APPLIED = "applied", "Applied after a resume"


class InboundWebhook(models.Model):
    """A store's signed change notification; its id is remembered to refuse replays."""

    store = models.ForeignKey("catalog.Store", on_delete=models.CASCADE, related_name="+")
    webhook_id = models.CharField(max_length=255)
    entity_type = models.CharField(max_length=20)
    event_type = models.CharField(max_length=50)
    record_ids = models.JSONField(default=list, blank=True, help_text="The records' ids in the shop.")
    status = models.CharField(max_length=20, choices=InboundStatus.choices, default=InboundStatus.QUEUED)
    job = models.ForeignKey(
        "storesync.StoreSyncJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(help_text="The webhook-timestamp.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["store", "webhook_id"], name="storesync_inbound_once")]
        indexes = [models.Index(fields=["store", "status"], name="storesync_inbound_status")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    DEAD = "dead", "Dead letter"


class DeliveryTarget(models.TextChoices):
    STORE = "store", "The store's webhook endpoint"
    ALERTS = "alerts", "The alert webhook"


class WebhookDelivery(models.Model):
    """One event for one endpoint; its id (``webhook-id``) is the same in every attempt."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    msg_id = models.CharField(max_length=64, unique=True, help_text="The webhook-id header.")
    store = models.ForeignKey("catalog.Store", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    target = models.CharField(max_length=10, choices=DeliveryTarget.choices, default=DeliveryTarget.STORE)
    event_type = models.CharField(max_length=50)
    event_key = models.CharField(
        max_length=120, blank=True, help_text="Makes an event delivered once (a job's end), blank otherwise."
    )
    payload = models.JSONField(help_text="The envelope: type, timestamp, data.")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Attempts in the current round.")
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="Due time; while an attempt runs, the end of its lease."
    )
    lease_token = models.CharField(max_length=32, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event_key"], condition=~Q(event_key=""), name="storesync_delivery_once"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="storesync_delivery_due"),
            models.Index(fields=["store", "created_at"], name="storesync_delivery_store"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.msg_id} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField()
    url = models.CharField(max_length=500)
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    response_body = models.TextField(blank=True, help_text="The first 500 characters.")
    success = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery_id", "number"]
        indexes = [models.Index(fields=["attempted_at"], name="storesync_attempt_time")]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error[:40]}"
