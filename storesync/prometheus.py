"""Prometheus metrics at ``/metrics``, read from the database at scrape time.

Web processes and workers are separate, so in-process counters would each see a part;
the database sees everything. A custom collector (prometheus_client) turns the tables into
gauges and a histogram per scrape: a handful of aggregate queries.
"""

from __future__ import annotations

import hmac
import logging
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, F
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from storesync import events
from storesync.health.metrics import drift
from storesync.health.models import Alert
from storesync.models import DeadLetter, SyncConflict
from storesync.webhooks.models import WebhookAttempt, WebhookDelivery

logger = logging.getLogger(__name__)

DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class HubCollector:
    def collect(self):
        now = timezone.now()
        jobs = GaugeMetricFamily("rsh_jobs", "Jobs by kind and status (all job tables).", labels=["kind", "status"])
        durations = {}
        for model in events.job_models():
            for row in model.objects.values("kind", "status").annotate(n=Count("id")).order_by():
                jobs.add_metric([row["kind"], row["status"]], row["n"])
            recent = (
                model.objects.filter(finished_at__gte=now - timedelta(hours=24))
                .exclude(started_at=None)
                .values_list("kind", "started_at", "finished_at")[:20000]
            )
            for kind, start, end in recent:
                durations.setdefault(kind, []).append((end - start).total_seconds())
        yield jobs
        histogram = HistogramMetricFamily(
            "rsh_job_duration_seconds", "Durations of the jobs finished in the last 24 hours.", labels=["kind"]
        )
        for kind, values in sorted(durations.items()):
            buckets = [(str(bound), sum(1 for v in values if v <= bound)) for bound in DURATION_BUCKETS]
            buckets.append(("+Inf", len(values)))
            histogram.add_metric([kind], buckets, sum_value=sum(values))
        yield histogram
        yield from self.store_sync()
        yield from self.other_apps()

    def store_sync(self):
        yield _by("rsh_sync_conflicts", "Store sync conflicts by status.", SyncConflict.objects, "status")
        yield _by(
            "rsh_sync_dead_letters", "Store sync dead letters (record writes) by status.", DeadLetter.objects, "status"
        )
        yield _by(
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

    def other_apps(self):
        from nasync.models import Document

        yield GaugeMetricFamily(
            "rsh_nas_documents_pending",
            "Documents not on the NAS yet (held ones included).",
            value=Document.objects.filter(synced_to_nas=False).count(),
        )
        try:
            reports = apps.get_model("photosync", "EdgeStatusReport")
            photos = apps.get_model("photosync", "ProductPhoto")
        except LookupError:
            return
        coverage = GaugeMetricFamily(
            "rsh_edge_photo_coverage_ratio",
            "Share of a store's current photos its edge reports synced at their version.",
            labels=["store_id"],
        )
        try:
            totals = dict(
                photos.objects.filter(deleted_at=None).values_list("store_id").annotate(n=Count("id")).order_by()
            )
            synced = dict(
                reports.objects.filter(status="synced", version=F("photo__version"), photo__deleted_at=None)
                .values_list("store_id")
                .annotate(n=Count("id"))
                .order_by()
            )
        except DatabaseError:  # edge reports not migrated yet
            return
        for store_id, total in sorted(totals.items()):
            coverage.add_metric([str(store_id)], synced.get(store_id, 0) / total if total else 1.0)
        yield coverage


def _by(name: str, documentation: str, manager, field: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[field])
    for row in manager.values(field).annotate(n=Count("pk")).order_by():
        family.add_metric([str(row[field])], row["n"])
    return family


def metrics_view(request):
    """``GET /metrics`` in the Prometheus text format (bearer ``METRICS_TOKEN`` when set)."""
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse("metrics token required\n", status=401, content_type="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector())
    try:
        body = generate_latest(registry)
    except DatabaseError:
        logger.exception("could not read the metrics")
        return HttpResponse("metrics unavailable\n", status=503, content_type="text/plain")
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
