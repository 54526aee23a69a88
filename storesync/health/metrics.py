"""Health metrics of store sync (the ``metrics`` block of the store sync API), computed from what is
recorded: finished jobs, conflict rows, the per-record sync state, webhook deliveries.

All figures cover the last ``window`` (24 hours by default) except the drift, which is the
state now:

- ``sync_success_rate``: succeeded jobs / finished jobs (cancelled ones left out), percent;
- ``avg_sync_duration``: mean duration of the succeeded and partial jobs, ``"2.3s"``;
- ``conflicts_per_day``: conflicts recorded, scaled to 24 hours;
- ``data_drift_percentage``: records in sync whose sides differ now (a pending conflict, or a
  platform change the sync has not carried yet), over the records in sync, percent;
- ``webhook_delivery_rate``: outbound deliveries delivered / deliveries settled (delivered
  or dead), percent.

A rate without any data is 100.0 (nothing failed).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from config.jobs import JobStatus
from storesync.constants import Direction
from storesync.engine.entities import ADAPTERS
from storesync.models import StoreSyncJob, SyncConflict, SyncEntity, SyncRecordState
from storesync.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery

DAY = timedelta(hours=24)


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 100.0


def success_rate(jobs: QuerySet, since: datetime) -> tuple[float, int, int]:
    stats = (
        jobs.filter(finished_at__gte=since)
        .exclude(status=JobStatus.CANCELLED)
        .filter(status__in=[JobStatus.SUCCEEDED, JobStatus.PARTIAL, JobStatus.FAILED])
        .aggregate(total=Count("id"), ok=Count("id", filter=Q(status=JobStatus.SUCCEEDED)))
    )
    return _percent(stats["ok"], stats["total"]), stats["ok"], stats["total"]


def average_duration(jobs: QuerySet, since: datetime) -> float | None:
    rows = (
        jobs.filter(finished_at__gte=since, status__in=[JobStatus.SUCCEEDED, JobStatus.PARTIAL])
        .exclude(started_at=None)
        .values_list("started_at", "finished_at")
    )
    durations = [(end - start).total_seconds() for start, end in rows]
    return sum(durations) / len(durations) if durations else None


def drift(stores: QuerySet | None) -> tuple[int, int]:
    """(records whose sides differ now, records in sync)."""
    states = SyncRecordState.objects.all() if stores is None else SyncRecordState.objects.filter(store__in=stores)
    in_sync = states.count()
    if not in_sync:
        return 0, 0
    drifted = 0
    entities = SyncEntity.objects.filter(enabled=True).select_related("config")
    if stores is not None:
        entities = entities.filter(config__store__in=stores)
    for entity in entities:
        adapter = ADAPTERS[entity.entity_type]
        store_id = entity.config.store_id
        conflict = SyncConflict.objects.filter(
            store_id=store_id, entity_type=entity.entity_type, record_pk=OuterRef("record_pk"), status="pending"
        )
        rows = SyncRecordState.objects.filter(store_id=store_id, entity_type=entity.entity_type)
        moved = adapter.model.objects.filter(pk=OuterRef("record_pk")).exclude(updated_at=OuterRef("platform_modified"))
        if entity.direction == Direction.TO_PLATFORM:
            drifted += rows.filter(Exists(conflict)).count()
        else:
            drifted += rows.filter(Exists(conflict) | Exists(moved)).count()
    return drifted, in_sync


def delivery_rate(deliveries: QuerySet, since: datetime) -> tuple[float, int, int]:
    stats = deliveries.filter(
        created_at__gte=since, status__in=[DeliveryStatus.SUCCEEDED, DeliveryStatus.DEAD]
    ).aggregate(total=Count("id"), ok=Count("id", filter=Q(status=DeliveryStatus.SUCCEEDED)))
    return _percent(stats["ok"], stats["total"]), stats["ok"], stats["total"]


def health_metrics(
    stores: QuerySet | None = None, *, now: datetime | None = None, window: timedelta = DAY
) -> dict[str, Any]:
    """The spec's block for ``stores`` (None: every store)."""
    now = now or timezone.now()
    since = now - window
    jobs = StoreSyncJob.objects.all()
    conflicts = SyncConflict.objects.all()
    deliveries = WebhookDelivery.objects.filter(store__isnull=False)
    if stores is not None:
        jobs, conflicts, deliveries = (qs.filter(store__in=stores) for qs in (jobs, conflicts, deliveries))
    rate, _, _ = success_rate(jobs, since)
    average = average_duration(jobs, since)
    conflict_count = conflicts.filter(created_at__gte=since).count()
    drifted, in_sync = drift(stores)
    webhook_rate, _, _ = delivery_rate(deliveries, since)
    return {
        "sync_success_rate": rate,
        "avg_sync_duration": f"{average:.1f}s" if average is not None else None,
        "conflicts_per_day": round(conflict_count * (DAY / window), 1) if window != DAY else conflict_count,
        "data_drift_percentage": round(100.0 * drifted / in_sync, 2) if in_sync else 0.0,
        "webhook_delivery_rate": webhook_rate,
    }


def consecutive_webhook_failures(store_id) -> int:
    """Failed attempts to the store's endpoint since its last success."""
    attempts = WebhookAttempt.objects.filter(delivery__store_id=store_id, delivery__target="store")
    last_ok = (
        attempts.filter(success=True).order_by("-attempted_at", "-id").values_list("attempted_at", flat=True).first()
    )
    failed = attempts.filter(success=False)
    if last_ok is not None:
        failed = failed.filter(attempted_at__gt=last_ok)
    return failed.count()
