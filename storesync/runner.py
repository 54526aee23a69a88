"""Running sync jobs: one running job per store, the others waiting in order.

A job is a row before it is a message. Every message carries a random *token*; the
message that moves a job from ``queued`` to ``running`` stamps the job with its token,
so only that message (redelivered after a lost worker, or re-sent for a job-level retry)
may run it again. A message for a job that is not next in its store's line does
nothing: when a job finishes, the next one's message is sent, and the beat dispatcher
re-sends the message of a job left waiting (a lost message).

Order in a store's line: priority (``high``, ``normal``, ``low``), then age.
"""

from __future__ import annotations

import logging
import uuid

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from catalog.platforms import PlatformError, create_ecommerce_service
from config.jobs import JobStatus, finish_job, job_changed
from config.observability import log_context
from storesync.constants import CELERY_PRIORITIES
from storesync.engine.batch import ShopUnavailable, SyncCancelled, new_entity_result
from storesync.engine.scanning import iso
from storesync.engine.shop_writer import ShopWriter, backoff_delay
from storesync.engine.sync import EntitySync
from storesync.models import StoreSyncJob, SyncConfig
from storesync.presenters import job_summary as summary
from storesync.selectors import waiting_jobs
from storesync.task_names import RUN_STORE_SYNC, task_by_name

logger = logging.getLogger(__name__)

# Entities run in this order: orders link to customers created before them.
ENTITY_ORDER = {"products": 0, "customers": 1, "orders": 2}


def send_job(
    job: StoreSyncJob, *, token: str | None = None, countdown: float | None = None, on_commit: bool = True
) -> None:
    """Send a message for the job (a new token unless one is given)."""
    token = token or uuid.uuid4().hex
    task_id = str(uuid.uuid4())
    StoreSyncJob.objects.filter(pk=job.pk).update(celery_task_id=task_id, heartbeat_at=timezone.now())
    options = {"task_id": task_id, "priority": CELERY_PRIORITIES.get(job.priority, 3)}
    if countdown:
        options["countdown"] = max(0.0, min(countdown, settings.CELERY_MAX_COUNTDOWN))

    def send():
        task_by_name(RUN_STORE_SYNC).apply_async(args=[str(job.pk), token], **options)

    if on_commit:
        transaction.on_commit(send)
    else:
        send()


def claim(job_id, token: str) -> StoreSyncJob | None:
    """The job, now running for this message; None when it is not this message's turn."""
    store_id = StoreSyncJob.objects.filter(pk=job_id).values_list("store_id", flat=True).first()
    if store_id is None:
        return None
    cancelled = None
    with transaction.atomic():
        config = SyncConfig.objects.select_for_update().filter(store_id=store_id).first()
        job = StoreSyncJob.objects.select_for_update().get(pk=job_id)
        if not job.is_active:
            return None
        if job.status == JobStatus.RUNNING:
            if job.claim_token != token:
                return None  # a second message for a job another worker runs
        else:
            if config is None or config.paused:
                cancelled = job
            elif StoreSyncJob.objects.filter(store_id=store_id, status=JobStatus.RUNNING).exists():
                return None  # waits; sent again when the running job finishes
            elif waiting_jobs(store_id)[0].pk != job.pk:
                return None
            job.status = JobStatus.RUNNING
            job.claim_token = token
        if cancelled is None:
            now = timezone.now()
            job.attempts += 1
            job.started_at = job.started_at or now
            job.heartbeat_at = now
            job.save(update_fields=["status", "claim_token", "attempts", "started_at", "heartbeat_at"])
    if cancelled is not None:
        finish_job(cancelled, status=JobStatus.CANCELLED, message="The store's sync is paused or not configured.")
        return None
    job_changed.send(sender=StoreSyncJob, job=job)
    return job


def execute_job(job_id, token: str) -> StoreSyncJob | None:
    """The task body: claim, run every entity, finish; retry later when the shop is down."""
    job = claim(job_id, token)
    if job is None:
        return None
    finished = True
    try:
        with log_context(job_id=job.pk, store_id=job.store_id):
            run_entities(job)
    except SyncCancelled:
        finish_job(job, status=JobStatus.CANCELLED, message="Cancelled: the store's sync was paused.")
    except SoftTimeLimitExceeded:
        finish_job(job, status=JobStatus.FAILED, message="SYNC_TIMEOUT: the job exceeded its time limit.")
    except ShopUnavailable as exc:
        finished = retry_later(job, token, exc.code, str(exc))
    except PlatformError as exc:
        if exc.transient:
            finished = retry_later(job, token, exc.code, str(exc))
        else:
            finish_job(job, status=JobStatus.FAILED, message=f"{exc.code}: {exc}")
    except Exception as exc:  # the job must end in a final state whatever broke
        logger.exception("store sync job %s failed", job.pk)
        finish_job(job, status=JobStatus.FAILED, message=f"{type(exc).__name__}: {exc}")
    else:
        job.refresh_from_db()
        status = JobStatus.PARTIAL if job.items_failed or job.error_count else JobStatus.SUCCEEDED
        finish_job(job, status=status, result=summary(job))
    if finished:
        StoreSyncJob.objects.filter(pk=job.pk).update(current_entity="")
        kick_next(job.store_id)
    return job


def run_entities(job: StoreSyncJob) -> None:
    store = job.store
    config = store.sync_config
    entities = {entity.entity_type: entity for entity in config.entities.filter(enabled=True)}
    with create_ecommerce_service(store) as service, ShopWriter(store, service) as writer:
        for name in sorted(job.entities, key=lambda n: ENTITY_ORDER.get(n, 9)):
            current = job.entity_results.get(name) or {}
            if current.get("status") in ("completed", "skipped"):
                continue  # done before a redelivery
            entity = entities.get(name)
            mark_entity(job, name, status="skipped" if entity is None else "in_progress")
            if entity is not None:
                EntitySync(job, entity, service, writer).run()


def mark_entity(job: StoreSyncJob, name: str, *, status: str) -> None:
    with transaction.atomic():
        row = StoreSyncJob.objects.select_for_update().get(pk=job.pk)
        result = row.entity_results.setdefault(name, new_entity_result())
        result["status"] = status
        result["started_at"] = result.get("started_at") or iso(timezone.now())
        row.current_entity = name if status == "in_progress" else ""
        row.save(update_fields=["entity_results", "current_entity"])
    job.entity_results, job.current_entity = row.entity_results, row.current_entity
    job_changed.send(sender=StoreSyncJob, job=job)


def retry_later(job: StoreSyncJob, token: str, code: str, message: str) -> bool:
    """Send the job again after a backoff; fail it after the last attempt. True if it finished."""
    job.refresh_from_db()
    attempt = job.retries + 1
    if attempt >= settings.STORESYNC_MAX_ATTEMPTS:
        finish_job(job, status=JobStatus.FAILED, message=f"{code}: {message} (gave up after {attempt} attempts)")
        return True
    StoreSyncJob.objects.filter(pk=job.pk).update(retries=F("retries") + 1, message=f"{code}: {message}; retrying")
    delay = backoff_delay(attempt, settings.STORESYNC_JOB_RETRY_BACKOFF)
    logger.warning("store sync job %s: %s; attempt %d in %.0fs", job.pk, message, attempt + 1, delay)
    send_job(job, token=token, countdown=delay, on_commit=False)
    return False


def kick_next(store_id) -> StoreSyncJob | None:
    """Send the message of the store's next waiting job, if none runs."""
    if StoreSyncJob.objects.filter(store_id=store_id, status=JobStatus.RUNNING).exists():
        return None
    line = waiting_jobs(store_id)
    if not line:
        return None
    send_job(line[0])
    return line[0]
