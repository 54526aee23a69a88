"""The response shapes of store sync: the dicts the API returns, shared by the
views, the admin, the event stream and the outbound webhooks. Reads go through
``storesync.selectors``."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from catalog.error_codes import CatalogErrorCode
from catalog.models import Store
from config.error_codes import ErrorCode
from config.jobs import JobStatus, JobTrigger
from storesync import selectors
from storesync.constants import Frequency
from storesync.engine.entities import ADAPTERS
from storesync.models import StoreSyncJob, SyncChange, SyncConfig, SyncConflict
from storesync.values import as_number

JOB_STATUSES = {
    JobStatus.QUEUED: "queued",
    JobStatus.RUNNING: "in_progress",
    JobStatus.SUCCEEDED: "completed",
    JobStatus.PARTIAL: "partial",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
    JobStatus.HELD: "held",
}
AMOUNT_FIELDS = frozenset({"price", "total"})
HISTORY_STATUSES = {status: label for label, status in selectors.HISTORY_FILTERS.items()}
TRIGGERS = {
    JobTrigger.API: "manual",
    JobTrigger.SCHEDULE: "scheduled",
    JobTrigger.WEBHOOK: "webhook",
    JobTrigger.ADMIN: "admin",
    JobTrigger.COMMAND: "command",
}
# A finished job's event (stream and outbound webhook) and status word.
FINISHED_EVENTS = {
    JobStatus.SUCCEEDED: ("sync_completed", "success"),
    JobStatus.PARTIAL: ("sync_completed", "partial"),
    JobStatus.FAILED: ("sync_failed", "failed"),
    JobStatus.CANCELLED: ("sync_failed", "cancelled"),
}


def seconds_text(seconds: float | None) -> str | None:
    return None if seconds is None else f"{seconds:.1f}s"


def webhook_urls(store: Store, entity_types: list[str]) -> list[str]:
    return [f"{settings.PUBLIC_BASE_URL}/api/v1/webhooks/{store.uuid}/{name}" for name in entity_types]


def next_sync_label(config: SyncConfig) -> str | None:
    """``real_time`` and ``manual`` as such, else the time of the next scheduled sync."""
    if config.paused:
        return None
    if config.sync_frequency in (Frequency.REAL_TIME, Frequency.MANUAL):
        return config.sync_frequency
    moment = selectors.next_sync_at(config)
    return moment.isoformat() if moment else None


def config_detail(config: SyncConfig) -> dict[str, Any]:
    entities = selectors.enabled_entities(config)
    return {
        "sync_config_id": config.pk,
        "store_id": config.store_id,
        "sync_frequency": config.sync_frequency,
        "paused": config.paused,
        "entities": [
            {
                "type": e.entity_type,
                "direction": e.direction,
                "conflict_resolution": e.conflict_resolution,
                "fields": list(e.fields),
                "exclude_fields": list(e.exclude_fields or []),
                "delete_policy": e.delete_policy,
                "max_changes": e.max_changes,
                "max_changes_percent": e.max_changes_percent,
            }
            for e in entities
        ],
        "webhook_config": {"endpoint": config.webhook_endpoint or None, "has_secret": bool(config.webhook_secret)},
        "webhook_urls": webhook_urls(config.store, [e.entity_type for e in entities]),
        "next_sync": next_sync_label(config),
        "updated_at": config.updated_at.isoformat(),
    }


def configure_response(config: SyncConfig, entities_configured: int) -> dict[str, Any]:
    types = [entity.entity_type for entity in selectors.enabled_entities(config)]
    return {
        "sync_config_id": config.pk,
        "status": "configured",
        "entities_configured": entities_configured,
        "next_sync": next_sync_label(config),
        "webhook_urls": webhook_urls(config.store, types),
    }


# Estimates


def _duration_text(low: float, high: float) -> str:
    for unit, size in (("second", 1), ("minute", 60), ("hour", 3600)):
        if high < 90 * size or unit == "hour":
            lo, hi = max(1, round(low / size)), max(1, round(high / size))
            if lo == hi:
                return f"about {hi} {unit}" + ("" if hi == 1 else "s")  # "about 1 second", never "1 seconds"
            return f"{lo}-{hi} {unit}s"
    return "unknown"


def estimated_duration(store_id: int, sync_type: str) -> str:
    """From the store's last ten finished runs of the same type."""
    durations = selectors.finished_durations(store_id, sync_type, [JobStatus.SUCCEEDED, JobStatus.PARTIAL])
    if not durations:
        return "unknown"
    return _duration_text(min(durations), max(durations))


def _average_seconds(store_id: int, sync_type: str) -> float | None:
    durations = selectors.finished_durations(store_id, sync_type, [JobStatus.SUCCEEDED])
    return sum(durations) / len(durations) if durations else None


# Jobs


def trigger_response(job: StoreSyncJob) -> dict[str, Any]:
    return {
        "sync_job_id": str(job.pk),
        "status": JOB_STATUSES[job.status],
        "estimated_duration": estimated_duration(job.store_id, job.sync_type),
        "entities_to_sync": list(job.entities),
        "queue_position": selectors.queue_position(job),
    }


def undo_response(job: StoreSyncJob) -> dict[str, Any]:
    return {**trigger_response(job), "mode": job.mode, "source_job_id": str(job.source_job_id)}


def entity_results(job: StoreSyncJob) -> dict[str, dict[str, Any]]:
    keys = ("records_synced", "records_updated", "records_created", "conflicts_resolved", "conflicts_pending")
    return {
        name: {
            "status": result.get("status", "pending"),
            **{k: result.get(k, 0) for k in keys},
            "errors": result.get("errors", 0),
            "duration": seconds_text(result.get("duration")),
        }
        for name, result in ordered_results(job)
    }


def ordered_results(job: StoreSyncJob) -> list[tuple[str, dict]]:
    """Per-entity results in the job's order (the JSON column does not keep key order)."""
    results = job.entity_results
    return [
        (name, results[name]) for name in [*job.entities, *sorted(set(results) - set(job.entities))] if name in results
    ]


def completed_entities(job: StoreSyncJob) -> int:
    results = job.entity_results
    return sum(1 for name in job.entities if (results.get(name) or {}).get("status") in ("completed", "skipped"))


def progress_percentage(job: StoreSyncJob) -> float:
    """The job's progress in percent, from the row alone (the event stream sends it per step)."""
    if job.status == JobStatus.SUCCEEDED:
        return 100.0
    total = len(job.entities)
    if not total:
        return 0.0
    fraction = 0.0
    current = job.current_entity if job.status == JobStatus.RUNNING else ""
    if current and current in job.entity_results:
        r = job.entity_results[current]
        # The total grows batch by batch while the entity runs: never report it as done.
        fraction = min(0.99, r.get("records_synced", 0) / r["records_total"]) if r.get("records_total") else 0.0
    return round(100.0 * (completed_entities(job) + fraction) / total, 1)


def job_detail(job: StoreSyncJob) -> dict[str, Any]:
    total = len(job.entities)
    done = completed_entities(job)
    current = job.current_entity if job.status == JobStatus.RUNNING else ""
    percentage = progress_percentage(job)
    estimated = None
    if job.status == JobStatus.RUNNING and job.started_at:
        elapsed = (timezone.now() - job.started_at).total_seconds()
        if percentage > 0:
            estimated = job.started_at + timedelta(seconds=elapsed * 100.0 / percentage)
        elif (average := _average_seconds(job.store_id, job.sync_type)) is not None:
            estimated = job.started_at + timedelta(seconds=average)
    elif job.finished_at:
        estimated = job.finished_at
    return {
        "job_id": str(job.pk),
        "store_id": job.store_id,
        "status": JOB_STATUSES[job.status],
        "sync_type": job.sync_type,
        "priority": job.priority,
        "trigger": TRIGGERS.get(job.trigger, job.trigger),
        "queue_position": selectors.queue_position(job),
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "progress": {
            "total_entities": total,
            "completed_entities": done,
            "percentage": percentage,
            "current_entity": current or None,
            "records_processed": job.items_processed,
            "records_total": job.items_total,
        },
        "results": entity_results(job),
        "estimated_completion": estimated.isoformat() if estimated else None,
        "message": job.message,
        "errors": job.errors[:50],
        "mode": job.mode,
        "source_job_id": str(job.source_job_id) if job.source_job_id else None,
        "preview": (job.result or {}).get("preview"),
    }


def job_summary(job: StoreSyncJob) -> dict[str, Any]:
    """A job's totals: its ``result`` when it ends, the history's and the webhook's ``summary``."""
    results = job.entity_results
    pending = sum(r.get("conflicts_pending", 0) for r in results.values())
    return {
        "total_records": sum(r.get("records_synced", 0) for r in results.values()),
        "successful": max(0, job.items_processed - job.items_failed),
        "failed": job.items_failed,
        "conflicts": sum(r.get("conflicts_resolved", 0) for r in results.values()) + pending,
        "conflicts_pending": pending,
    }


def change_item(row: SyncChange) -> dict[str, Any]:
    return {
        "id": row.pk,
        "entity": row.entity_type,
        "record_pk": row.record_pk,
        "shop_id": row.shop_id,
        "field": row.field,
        "side": row.side,
        "action": row.action,
        "old_value": row.old_value,
        "new_value": row.new_value,
        "settled_by": row.settled_by,
        "created_at": row.created_at.isoformat(),
    }


def pending_conflicts_note(pending: int) -> str:
    """What a finished job that left conflicts pending says (its message, the admin's status)."""
    if not pending:
        return ""
    return f"{pending} {'conflict waits' if pending == 1 else 'conflicts wait'} for a manual resolution."


# History


def history_item(job: StoreSyncJob) -> dict[str, Any]:
    return {
        "sync_id": str(job.pk),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "completed_at": job.finished_at.isoformat() if job.finished_at else None,
        "status": HISTORY_STATUSES.get(job.status, job.status),
        "trigger": TRIGGERS.get(job.trigger, job.trigger),
        "sync_type": job.sync_type,
        "entities_synced": [
            {
                "type": name,
                "records_processed": r.get("records_synced", 0),
                "records_updated": r.get("records_updated", 0),
                "records_created": r.get("records_created", 0),
                "duration": seconds_text(r.get("duration")),
            }
            for name, r in ordered_results(job)
        ],
        "summary": job_summary(job),
        "message": job.message,
    }


# Conflicts


def conflict_item(conflict: SyncConflict) -> dict[str, Any]:
    return {
        "conflict_id": conflict.pk,
        "entity_type": conflict.entity_type,
        "entity_id": conflict.record_pk,
        "store_entity_id": conflict.shop_id,
        "field": conflict.field,
        "store_value": display_value(conflict.field, conflict.store_value),
        "platform_value": display_value(conflict.field, conflict.platform_value),
        "last_modified_store": conflict.last_modified_store.isoformat() if conflict.last_modified_store else None,
        "last_modified_platform": (
            conflict.last_modified_platform.isoformat() if conflict.last_modified_platform else None
        ),
        "status": conflict.status,
        "resolution": conflict.resolution or None,
        "resolved_value": display_value(conflict.field, conflict.resolved_value),
        "resolved_at": conflict.resolved_at.isoformat() if conflict.resolved_at else None,
        "created_at": conflict.created_at.isoformat(),
    }


def stale_conflict(conflict: SyncConflict) -> dict[str, Any]:
    """A conflict left pending by a resolution because a side moved: its values now."""
    return {
        "conflict_id": conflict.pk,
        "field": conflict.field,
        "store_value": display_value(conflict.field, conflict.store_value),
        "platform_value": display_value(conflict.field, conflict.platform_value),
    }


def display_value(field: str, value: Any) -> Any:
    """Amounts are kept as exact strings; the API shows them as numbers, like the seed."""
    if field in AMOUNT_FIELDS and isinstance(value, str):
        number = as_number(value)
        return float(number) if number is not None else value
    return value


# Status


def sync_status(config: SyncConfig, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    store = config.store
    stats = selectors.day_stats(store, now)
    durations = stats["durations"]
    success_rate = round(100.0 * stats["ok"] / stats["total"], 1) if stats["total"] else 100.0
    last = selectors.last_finished_job(store)
    running = selectors.running_job(store)
    waiting = selectors.awaiting_human(store)
    if config.paused:
        overall = "paused"
    elif (last and last.status == JobStatus.FAILED) or (stats["total"] and stats["failed"] * 2 >= stats["total"]):
        overall = "failing"
    elif waiting:
        overall = "needs_attention"
    elif (last and last.status == JobStatus.PARTIAL) or success_rate < 95.0:
        overall = "degraded"
    else:
        overall = "healthy"
    entities = selectors.enabled_entities(config)
    pending_conflicts = selectors.pending_conflict_counts(store)
    last_syncs = [e.last_sync_at for e in entities if e.last_sync_at]
    return {
        "store_id": store.pk,
        "overall_status": overall,
        "last_sync": max(last_syncs).isoformat() if last_syncs else None,
        "next_sync": next_sync_label(config),
        "entities": [_entity_status(config, e, running, pending_conflicts.get(e.entity_type, 0)) for e in entities],
        "awaiting_human": asdict(waiting),
        "sync_health": {
            "success_rate": success_rate,
            "avg_sync_time": seconds_text(sum(durations) / len(durations)) if durations else None,
            "error_count_24h": (stats["errors"] or 0) + stats["failed"],
        },
    }


def _entity_status(config: SyncConfig, entity, running: StoreSyncJob | None, conflicts_pending: int) -> dict[str, Any]:
    adapter = ADAPTERS[entity.entity_type]
    store = config.store
    if config.paused:
        status = "paused"
    elif (
        running
        and entity.entity_type in running.entities
        and ((running.entity_results.get(entity.entity_type) or {}).get("status") in ("pending", "in_progress"))
    ):
        status = "syncing"
    elif entity.last_sync_at is None:
        status = "never_synced"
    elif entity.last_status == "partial":
        status = "error"
    else:
        status = "synced"
    return {
        "type": entity.entity_type,
        "status": status,
        "last_sync": entity.last_sync_at.isoformat() if entity.last_sync_at else None,
        "records_count": selectors.synced_record_count(store, entity.entity_type),
        "pending_changes": selectors.pending_changes(store, entity, adapter),
        "conflicts": conflicts_pending,
    }


# Rules, filters, pause


def rule_item(rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "entity_type": rule.entity_type,
        "field": rule.field,
        "condition": rule.condition,
        "action": rule.action,
        "created_from_conflict": rule.created_from_id,
    }


def filter_set(entity) -> dict[str, Any]:
    rows = selectors.filters_of(entity)
    return {
        "entity_type": entity.entity_type,
        "filters": [{"field": f.field, "operator": f.operator, "value": f.value} for f in rows],
        "exclude_fields": list(entity.exclude_fields or []),
        "effective_fields": list(entity.effective_fields),
    }


def filter_sets(config: SyncConfig) -> list[dict[str, Any]]:
    return [filter_set(entity) for entity in selectors.enabled_entities(config)]


def pause_item(config: SyncConfig, cancelled: int) -> dict[str, Any]:
    return {
        "store_id": config.store_id,
        "status": "paused" if config.paused else "active",
        "paused_at": config.paused_at.isoformat() if config.paused_at else None,
        "cancelled_jobs": cancelled,
        "next_sync": next_sync_label(config),
    }


# Dead letters in the console

# Where the fix of a failed write is, by the error's code: the shop refused the value (a
# requeue fails again until the record is fixed), or the shop or the network failed for now.
FIX_IN_SHOP_CODES = frozenset(
    {ErrorCode.INVALID_DATA_FORMAT, ErrorCode.VALIDATION_ERROR, CatalogErrorCode.PLATFORM_NOT_FOUND}
)
FIX_IN_SETTINGS_CODES = frozenset(
    {
        CatalogErrorCode.PLATFORM_AUTH_FAILED,
        CatalogErrorCode.PLATFORM_NOT_CONFIGURED,
        CatalogErrorCode.PLATFORM_UNSUPPORTED,
        CatalogErrorCode.UNSAFE_URL,
    }
)
RETRY_CODES = frozenset(
    {
        ErrorCode.SYNC_TIMEOUT,
        ErrorCode.NETWORK_ERROR,
        ErrorCode.RATE_LIMIT_EXCEEDED,
        ErrorCode.BROKER_UNAVAILABLE,
        CatalogErrorCode.PLATFORM_SERVER_ERROR,
    }
)


def dead_letter_fix(code: str) -> tuple[str, str]:
    """(where, advice) for a dead letter's error code: ``shop``, ``settings``, ``retry`` or ``unknown``."""
    if code in FIX_IN_SHOP_CODES:
        return "shop", "Fix the value in the shop (or on the record), then requeue: a requeue alone fails again."
    if code in FIX_IN_SETTINGS_CODES:
        return "settings", "Fix the store's shop connection (URL, API key), then requeue."
    if code in RETRY_CODES:
        return "retry", "Transient (timeout, shop server error, network): requeue, or let the next sync retry it."
    return "unknown", "Read the error; requeue once its cause is fixed."
