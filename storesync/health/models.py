"""Tables of the sync's health: alert rules and the alerts they open. Imported by
``storesync.models`` (Django finds models there)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class AlertRule(models.Model):
    """One of the spec's alert conditions; thresholds are edited in the admin."""

    key = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=150)
    threshold = models.FloatField()
    window_minutes = models.PositiveIntegerField(default=60, help_text="How far back the condition looks.")
    enabled = models.BooleanField(default=True)
    notify_emails = models.JSONField(
        default=list, blank=True, help_text="Addresses to notify (besides STORESYNC_ALERT_EMAILS)."
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    store = models.ForeignKey("catalog.Store", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    value = models.FloatField(help_text="The measured value when last evaluated.")
    threshold = models.FloatField()
    message = models.TextField()
    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "store"], condition=Q(status="open"), name="storesync_alert_one_open"
            ),
        ]
        indexes = [models.Index(fields=["store", "status", "opened_at"], name="storesync_alert_list")]

    def __str__(self) -> str:
        return f"{self.rule} on {self.store_id} ({self.status})"
