"""The sync event stream's publisher: job changes become WebSocket messages.

Every job table (store sync, image sync, NAS run, catalogue import) sends
``config.jobs.job_changed`` after each change of a row; :func:`on_job_changed` turns that
into ``sync_started``, ``sync_progress`` (throttled per job), ``sync_completed`` /
``sync_failed`` and, for store syncs, ``conflict_detected``, sent through the channel layer
(channels-redis in production, so a Celery worker reaches the web processes) to the store's
group (``config.channel_groups``: one Redis connection per process, not one per message).
Jobs without a store (NAS runs) go to the hub group that every stream joins.

(The outbound ``sync.completed`` / ``sync.failed`` webhook is storesync's own receiver's,
``storesync.webhooks.receivers.store_sync_finished``.)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q

from config import channel_groups
from config.jobs import Job, JobStatus, job_models
from storesync.models import SyncConflict
from storesync.presenters import FINISHED_EVENTS, TRIGGERS, display_value, progress_percentage, seconds_text

logger = logging.getLogger(__name__)

HUB_GROUP = "storesync.hub"
# Entity label of jobs that are not store syncs.
KIND_ENTITIES = {"image_sync": "images", "nas_sync": "documents", "catalog_import": "catalog"}
MAX_CONFLICT_EVENTS = 100  # per progress step; the rest are in GET sync/conflicts


def store_group(store_id) -> str:
    return f"storesync.store.{store_id}"


def group_for(job: Job) -> str:
    return store_group(job.store_id) if job.store_id else HUB_GROUP


# Messages


def _percentage(job: Job) -> float:
    if job.kind == "store_sync":
        return progress_percentage(job)
    return job.progress


def started_message(job: Job) -> dict[str, Any]:
    entities = list(getattr(job, "entities", None) or [KIND_ENTITIES.get(job.kind, job.kind)])
    return {
        "event": "sync_started",
        "data": {
            "sync_id": str(job.pk),
            "store_id": job.store_id,
            "kind": job.kind,
            "entity_type": entities[0],
            "entities": entities,
            "trigger": TRIGGERS.get(job.trigger, job.trigger),
            "started_at": job.started_at.isoformat() if job.started_at else None,
        },
    }


def progress_message(job: Job) -> dict[str, Any]:
    current = getattr(job, "current_entity", "") or None
    return {
        "event": "sync_progress",
        "data": {
            "sync_id": str(job.pk),
            "store_id": job.store_id,
            "kind": job.kind,
            "progress": _percentage(job),
            "records_processed": job.items_processed,
            "records_total": job.items_total,
            **({"current_entity": current} if current else {}),
        },
    }


def finished_message(job: Job) -> dict[str, Any]:
    event, status = FINISHED_EVENTS[job.status]
    data = {
        "sync_id": str(job.pk),
        "store_id": job.store_id,
        "kind": job.kind,
        "status": status,
        "duration": seconds_text(job.duration),
        "records_synced": job.items_processed,
    }
    if event == "sync_failed":
        data["error"] = job.message
        data["code"] = job.error_code or None
    return {"event": event, "data": data}


def conflict_message(conflict) -> dict[str, Any]:
    return {
        "event": "conflict_detected",
        "data": {
            "conflict_id": conflict.pk,
            "sync_id": str(conflict.job_id) if conflict.job_id else None,
            "store_id": conflict.store_id,
            "entity_type": conflict.entity_type,
            "entity_id": conflict.record_pk,
            "field": conflict.field,
            "store_value": display_value(conflict.field, conflict.store_value),
            "platform_value": display_value(conflict.field, conflict.platform_value),
            "status": conflict.status,
            "resolution": conflict.resolution or None,
        },
    }


def snapshot(store_id) -> list[dict[str, Any]]:
    """What a client connecting mid-job sees first: each running job's start and progress."""
    messages = []
    for model in job_models():
        rows = model.objects.filter(Q(store_id=store_id) | Q(store__isnull=True), status=JobStatus.RUNNING)
        for job in rows.order_by("started_at"):
            messages += [started_message(job), progress_message(job)]
    return messages


# Publishing


def send(group: str, message: dict[str, Any]) -> None:
    """Send one message to a group, as the JSON text its streams send on (encoded here once,
    not once per client); a broken channel layer never breaks the job."""
    try:
        channel_groups.send(group, {"type": "sync.event", "text": json.dumps(message)})
    except Exception:
        logger.warning("could not publish %s to %s", message.get("event"), group, exc_info=True)


_local_marks: dict[str, float] = {}
_local_lock = threading.Lock()
_redis = None


def _mark(key: str, seconds: float) -> bool:
    """True the first time ``key`` is marked within ``seconds`` (across processes with Redis)."""
    global _redis
    if settings.REDIS_URL:
        if _redis is None:
            _redis = redis.Redis.from_url(settings.REDIS_URL)
        try:
            return bool(_redis.set(f"storesync:events:{key}", 1, nx=True, px=max(1, int(seconds * 1000))))
        except redis.RedisError:
            pass  # fall back to this process' own memory
    now = time.monotonic()
    with _local_lock:
        if _local_marks.get(key, 0) > now:
            return False
        if len(_local_marks) > 10_000:
            _local_marks.clear()
        _local_marks[key] = now + seconds
        return True


# The ``started`` marks this process has seen taken: its progress ticks skip that Redis call.
_started_known: set[str] = set()


def _first_start(key: str) -> bool:
    """True once per job attempt across processes (``_mark``), asking Redis at most once per process."""
    if key in _started_known:
        return False
    first = _mark(key, 24 * 3600)
    if len(_started_known) > 10_000:
        _started_known.clear()
    _started_known.add(key)
    return first


def publish_job(job: Job) -> None:
    group = group_for(job)
    day = 24 * 3600
    if job.status == JobStatus.RUNNING:
        if _first_start(f"started:{job.pk}:{job.attempts}"):
            send(group, started_message(job))
        elif _mark(f"progress:{job.pk}", settings.STORESYNC_EVENT_PROGRESS_INTERVAL):
            send(group, progress_message(job))
        if job.kind == "store_sync":
            publish_conflicts(job)
    elif job.status in FINISHED_EVENTS and _mark(f"finished:{job.pk}", day):
        if job.kind == "store_sync":
            publish_conflicts(job)
        send(group, finished_message(job))


def publish_conflicts(job: Job) -> None:
    """The job's conflict rows not announced yet (they are written in bulk, without signals)."""
    key = f"storesync:events:conflicts:{job.pk}"
    last = cache.get(key, 0)
    rows = list(SyncConflict.objects.filter(job_id=job.pk, pk__gt=last).order_by("pk")[:MAX_CONFLICT_EVENTS])
    if not rows:
        return
    cache.set(key, rows[-1].pk, timeout=24 * 3600)
    for conflict in rows:
        send(store_group(job.store_id), conflict_message(conflict))


def on_job_changed(sender, job: Job, **kwargs) -> None:
    """``job_changed`` receiver: publish once the row's change is committed."""

    def run():
        try:
            publish_job(job)
        except Exception:
            logger.warning("could not publish the change of job %s", job.pk, exc_info=True)

    transaction.on_commit(run)
