"""Prometheus metrics at ``/metrics``: every job table, plus what each app registers.

``config.metrics`` holds the registry; this module serves it, with the hub-wide job
figures (jobs by kind and status, durations of the last 24 hours) read from every table
that inherits ``config.jobs.Job``.
"""

from __future__ import annotations

import hmac
import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from config.jobs import job_models
from config.metrics import collectors

logger = logging.getLogger(__name__)

DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def job_metrics():
    now = timezone.now()
    jobs = GaugeMetricFamily("rsh_jobs", "Jobs by kind and status (all job tables).", labels=["kind", "status"])
    durations: dict[str, list[float]] = {}
    for model in job_models():
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


class HubCollector:
    def collect(self):
        yield from job_metrics()
        for collect in collectors():
            yield from collect()


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
