"""What the store sync adds to ``/metrics`` (registered in ``StoreSyncConfig.ready``)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from config.metrics import counts_by
from storesync.health.metrics import drift
from storesync.health.models import Alert
from storesync.models import DeadLetter, SyncConflict
from storesync.webhooks.models import WebhookAttempt, WebhookDelivery


def collect():
    yield counts_by("rsh_sync_conflicts", "Store sync conflicts by status.", SyncConflict.objects, "status")
    yield counts_by(
        "rsh_sync_dead_letters", "Store sync dead letters (record writes) by status.", DeadLetter.objects, "status"
    )
    yield counts_by(
        "rsh_webhook_deliveries",
        "Outbound webhook deliveries by status (dead: dead letters).",
        WebhookDelivery.objects,
        "status",
    )
    attempts = GaugeMetricFamily(
        "rsh_webhook_attempts_24h", "Outbound webhook attempts in the last 24 hours.", labels=["outcome"]
    )
    recent = WebhookAttempt.objects.filter(attempted_at__gte=timezone.now() - timedelta(hours=24))
    ok = recent.filter(success=True).count()
    attempts.add_metric(["success"], ok)
    attempts.add_metric(["failure"], recent.count() - ok)
    yield attempts
    alerts = GaugeMetricFamily("rsh_sync_alerts_open", "Open store sync alerts by rule.", labels=["rule"])
    for row in Alert.objects.filter(status="open").values("rule__key").annotate(n=Count("id")).order_by():
        alerts.add_metric([row["rule__key"]], row["n"])
    yield alerts
    drifted, in_sync = drift(None)
    yield GaugeMetricFamily("rsh_sync_records_in_sync", "Records with a sync state.", value=in_sync)
    yield GaugeMetricFamily("rsh_sync_records_drifted", "Records in sync whose sides differ now.", value=drifted)
