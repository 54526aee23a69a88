"""The life of a job row: start exclusively, claim, progress, finish, wait (the runner enqueues).

These functions are the job runner's internals (``config.jobs.runner``); app code goes
through a runner. At most one active job exists per (kind, store): a partial unique index
enforces it, so two concurrent starts cannot both succeed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from config.error_codes import ErrorCode
from config.errors import DomainError
from config.jobs.models import (
    ACTIVE_STATUSES,
    MAX_RECORDED_ERRORS,
    Job,
    JobAlreadyRunning,
    JobInterrupted,
    JobStatus,
    JobTrigger,
    job_changed,
)
from config.observability import log_context

logger = logging.getLogger(__name__)

JobT = TypeVar("JobT", bound=Job)


def lock_key_for(kind: str, store) -> str:
    return f"{kind}:{store.pk if store is not None else '*'}"


def start_job(
    model: type[JobT],
    *,
    kind: str,
    store=None,
    trigger: str = JobTrigger.API,
    params: dict | None = None,
    requested_by=None,
) -> JobT:
    """Insert a queued job, or raise JobAlreadyRunning if one is active for (kind, store)."""
    lock_key = lock_key_for(kind, store)
    for _ in range(3):
        try:
            with transaction.atomic():
                return model.objects.create(
                    kind=kind,
                    store=store,
                    lock_key=lock_key,
                    trigger=trigger,
                    params=params or {},
                    requested_by=requested_by if getattr(requested_by, "pk", None) else None,
                )
        except IntegrityError:
            active = model.objects.filter(lock_key=lock_key, status__in=ACTIVE_STATUSES).first()
            if active is not None:
                raise JobAlreadyRunning(active) from None
            # The active job finished between our insert and our look-up: try again.
    raise JobAlreadyRunning(model.objects.filter(lock_key=lock_key).order_by("-created_at").first())


def _claim(model: type[JobT], job_id) -> JobT | None:
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=job_id).first()
        if job is None or not job.is_active:
            return None
        now = timezone.now()
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.save(update_fields=["status", "attempts", "started_at", "heartbeat_at"])
    job_changed.send(sender=model, job=job)
    return job


def run_job(model: type[JobT], job_id, work: Callable[[JobT], None]) -> JobT | None:
    """Run ``work(job)`` for a queued or redelivered job; finish it whatever happens.

    Returns None when the job is missing or already finished (a redelivered message).
    """
    job = _claim(model, job_id)
    if job is None:
        logger.info("job %s is not active; nothing to do", job_id)
        return None
    # The failure lines below carry the job's id and store too.
    with log_context(job_id=job.pk, store_id=job.store_id):
        try:
            work(job)
        except SoftTimeLimitExceeded:
            logger.warning("job %s hit its time limit", job.pk)
            finish_job(
                job,
                status=JobStatus.FAILED,
                message="SYNC_TIMEOUT: the job exceeded its time limit.",
                error_code=ErrorCode.SYNC_TIMEOUT,
            )
        except Exception as exc:  # the job row must end in a final state whatever broke
            if isinstance(exc, InterfaceError | OperationalError) and _drop_lost_connection():
                # The row cannot be written without a connection; a retry resumes the job, as a redelivery does.
                logger.warning("job %s lost its database connection; retrying", job.pk)
                raise JobInterrupted(f"{type(exc).__name__}: {exc}") from exc
            logger.exception("job %s failed", job.pk)
            code = exc.code if isinstance(exc, DomainError) else ErrorCode.INTERNAL_ERROR
            finish_job(job, status=JobStatus.FAILED, message=f"{type(exc).__name__}: {exc}", error_code=code)
        else:
            job.refresh_from_db()
            if job.is_active:
                finish_job(job)
    return job


def _drop_lost_connection() -> bool:
    """Close the database connection if it is gone (terminated, server restarted); True if it was."""
    if connection.connection is not None and connection.is_usable():
        return False
    connection.close()
    return True


def record_progress(
    job: Job,
    *,
    total: int | None = None,
    processed: int = 0,
    succeeded: int = 0,
    failed: int = 0,
    counters: dict[str, int] | None = None,
    errors: Iterable[dict] = (),
) -> Job:
    """Add to a job's counters atomically (several workers may share one job).

    On PostgreSQL one ``UPDATE … RETURNING`` adds to the row where it is, so no lock on the
    (hot) job row is held across round trips, and, unless the caller holds a transaction of
    its own, it commits without waiting for the WAL flush (``synchronous_commit = off``): a
    progress tick lost to a server crash is harmless, the next tick or the job's end (a
    synchronous commit, which flushes the WAL written before it) rewrites it. A tick is the
    event stream's ``sync_progress``, so this is its latency (docs/store-sync-realtime.md).
    """
    errors = list(errors)
    if connection.vendor == "postgresql":
        row = _add_progress_in_place(job, total, processed, succeeded, failed, counters or {}, errors)
    else:
        row = _add_progress_locked(job, total, processed, succeeded, failed, counters or {}, errors)
    _copy_fields(row, job)
    job_changed.send(sender=type(job), job=job)
    return job


# Counters are added by name; errors appended up to MAX_RECORDED_ERRORS, all of them counted.
_PROGRESS_UPDATE = """
{settings}
UPDATE {table} SET
    items_total = COALESCE(%s, items_total),
    items_processed = items_processed + %s,
    items_succeeded = items_succeeded + %s,
    items_failed = items_failed + %s,
    counters = counters || COALESCE(
        (SELECT jsonb_object_agg(key, COALESCE((counters ->> key)::numeric, 0) + value::numeric)
         FROM jsonb_each_text(%s)),
        '{{}}'::jsonb
    ),
    errors = errors || COALESCE(
        (SELECT jsonb_agg(value ORDER BY position)
         FROM jsonb_array_elements(%s) WITH ORDINALITY AS added(value, position)
         WHERE position <= %s - jsonb_array_length(errors)),
        '[]'::jsonb
    ),
    error_count = error_count + %s,
    heartbeat_at = %s
{from_settings}WHERE {pk} = %s
RETURNING {columns}
"""
# Asynchronous commit for this statement's own (implicit) transaction only.
_ASYNC_COMMIT = "WITH commit_mode AS (SELECT set_config('synchronous_commit', 'off', true))"


def _add_progress_in_place(job, total, processed, succeeded, failed, counters, errors) -> Job:
    model = type(job)
    meta = model._meta
    quote = connection.ops.quote_name
    own_transaction = not connection.in_atomic_block
    sql = _PROGRESS_UPDATE.format(
        settings=_ASYNC_COMMIT if own_transaction else "",
        from_settings="FROM commit_mode " if own_transaction else "",
        table=quote(meta.db_table),
        pk=quote(meta.pk.column),
        columns=", ".join(quote(field.column) for field in meta.concrete_fields),
    )

    def prepared(name, value):
        return meta.get_field(name).get_db_prep_value(value, connection)

    params = [
        total,
        processed,
        succeeded,
        failed,
        prepared("counters", counters),
        prepared("errors", errors),
        MAX_RECORDED_ERRORS,
        len(errors),
        timezone.now(),
        job.pk,
    ]
    rows = list(model.objects.raw(sql, params))
    if not rows:
        raise model.DoesNotExist(f"{model.__name__} {job.pk} is gone")
    return rows[0]


def _add_progress_locked(job, total, processed, succeeded, failed, counters, errors) -> Job:
    """The same addition as a locked read and write (SQLite: the embedded mode's one process)."""
    with transaction.atomic():
        row = type(job).objects.select_for_update().get(pk=job.pk)
        if total is not None:
            row.items_total = total
        row.items_processed += processed
        row.items_succeeded += succeeded
        row.items_failed += failed
        for name, amount in counters.items():
            row.counters[name] = row.counters.get(name, 0) + amount
        room = MAX_RECORDED_ERRORS - len(row.errors)
        if room > 0:
            row.errors.extend(errors[:room])
        row.error_count += len(errors)
        row.heartbeat_at = timezone.now()
        row.save(
            update_fields=[
                "items_total",
                "items_processed",
                "items_succeeded",
                "items_failed",
                "counters",
                "errors",
                "error_count",
                "heartbeat_at",
            ]
        )
    return row


def outcome_status(job: Job) -> str:
    if job.items_failed and not job.items_succeeded and job.items_total:
        return JobStatus.FAILED
    if job.items_failed or job.error_count:
        return JobStatus.PARTIAL
    return JobStatus.SUCCEEDED


def finish_job(
    job: Job, *, status: str | None = None, message: str = "", result: dict | None = None, error_code: str = ""
) -> Job:
    """Put the job in a final state (computed from its counters unless given)."""
    with transaction.atomic():
        row = type(job).objects.select_for_update().get(pk=job.pk)
        row.status = status or outcome_status(row)
        row.finished_at = timezone.now()
        row.started_at = row.started_at or row.finished_at
        if message:
            row.message = message
        if result is not None:
            row.result = result
        if error_code:
            row.error_code = str(error_code)
        row.save(update_fields=["status", "finished_at", "started_at", "message", "result", "error_code"])
    _copy_fields(row, job)
    job_changed.send(sender=type(job), job=job)
    return job


def fail_job(model: type[Job], job_id, message: str, *, error_code: str = ErrorCode.INTERNAL_ERROR) -> None:
    """Mark an active job failed without a worker (lost worker, redelivery limit)."""
    job = model.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES).first()
    if job is not None:
        finish_job(job, status=JobStatus.FAILED, message=message, error_code=error_code)


def wait_for_job(job: JobT, *, timeout: float | None = None, poll: float = 0.1) -> JobT:
    """Poll until the job is finished or ``timeout`` seconds pass; returns the fresh row."""
    deadline = time.monotonic() + (settings.JOB_WAIT_TIMEOUT if timeout is None else timeout)
    job.refresh_from_db()
    while job.is_active and time.monotonic() < deadline:
        time.sleep(poll)
        poll = min(poll * 1.5, 0.25)
        job.refresh_from_db()
    return job


def fail_stale_jobs(model: type[Job]) -> int:
    """Fail running jobs whose worker stopped reporting (its message was lost for good)."""
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER)
    stale = model.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True)
    count = 0
    for job_id in list(stale):
        fail_job(model, job_id, "The worker running this job stopped reporting.")
        count += 1
    return count


def _copy_fields(source: Job, target: Job) -> None:
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
