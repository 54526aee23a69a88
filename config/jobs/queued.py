"""A queued job runner: several jobs of a store may wait, one runs at a time, in priority order.

A job is a row before it is a message. Every message carries a random *token*; the message
that moves a job from ``queued`` to ``running`` stamps the job with its token
(``claim_token``), so only that message (redelivered after a lost worker, or sent again for
a job-level retry) may run it again. A message for a job that is not next in its store's
line does nothing: when a job finishes, the next one's message is sent (:meth:`kick_next`),
and an app's dispatcher may send the message of a job left waiting again (a lost message).

Order in a store's line: ``priority_rank`` of the job's ``priority`` (lowest first), then age.

The table needs, besides :class:`config.jobs.Job`'s columns: ``priority`` (a string),
``claim_token`` (a string) and ``retries`` (job-level retries). Nothing here imports an app.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import ClassVar

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Max
from django.utils import timezone

from config.error_codes import ErrorCode
from config.jobs.backoff import backoff_delay
from config.jobs.lifecycle import _drop_lost_connection
from config.jobs.models import ACTIVE_STATUSES, Job, JobInterrupted, JobStatus, JobTrigger, job_changed
from config.jobs.runner import JobRunner
from config.observability import log_context

logger = logging.getLogger(__name__)


def line_key(priority_rank: dict[str, int], default_rank: int = 1):
    """Sort key of a store's line: priority rank, then age (then id, for a stable order)."""
    return lambda job: (priority_rank.get(job.priority, default_rank), job.created_at, str(job.pk))


class JobCancelled(Exception):
    """Raised by :meth:`QueuedRunner.run` to end the job ``cancelled`` (its message says why)."""


class QueuedRunner(JobRunner, register=False):
    """Base of the runners whose jobs wait in a per-store line (see the module's docstring)."""

    # priority value -> rank in the line (0 runs first); unknown priorities rank ``default_rank``.
    priority_rank: ClassVar[dict[str, int]] = {}
    default_rank: ClassVar[int] = 1
    # priority value -> Celery message priority (on Redis, 0 is consumed first).
    celery_priorities: ClassVar[dict[str, int]] = {}
    default_celery_priority: ClassVar[int] = 3
    # Job-level retries: attempts in all, first delay and cap of the backoff (seconds); a subclass
    # may make them properties that read its settings.
    max_attempts: ClassVar[int] = 5
    retry_backoff: ClassVar[float] = 30.0
    retry_backoff_cap: ClassVar[float] = 60.0
    cancel_message: ClassVar[str] = "Cancelled."

    # Hooks for the subclass

    @classmethod
    def hold_line(cls, store_id) -> str:
        """Called in the claim's transaction: lock what serializes the store's line and return a
        reason to cancel the job instead of running it ("" to run it). Base: lock the store's active jobs."""
        list(cls.model.objects.select_for_update().filter(store_id=store_id, status__in=ACTIVE_STATUSES))
        return ""

    @classmethod
    def failure(cls, exc: Exception) -> tuple[str, str, bool] | None:
        """``(error_code, message, transient)`` for an error the job may end with, None for an
        unexpected one (a bug: ``INTERNAL_ERROR``). A transient error is retried with backoff."""
        code = getattr(exc, "code", None)
        if code:
            return str(code), str(getattr(exc, "message", "") or exc), bool(getattr(exc, "transient", False))
        return None

    def result(self) -> dict:
        """The finished job's ``result``."""
        return {}

    def after_run(self) -> None:
        """After the job finished (or was cancelled), before the next one is sent."""

    # The line

    @classmethod
    def line(cls, store_id) -> list[Job]:
        """The store's queued jobs in the order they will run."""
        queued = cls.model.objects.filter(store_id=store_id, status=JobStatus.QUEUED)
        return sorted(queued, key=line_key(cls.priority_rank, cls.default_rank))

    @classmethod
    def queue_position(cls, job: Job) -> int:
        """1 for the job that runs next; 0 once it runs or has finished."""
        if job.status != JobStatus.QUEUED:
            return 0
        return next((index for index, queued in enumerate(cls.line(job.store_id), 1) if queued.pk == job.pk), 0)

    @classmethod
    def running(cls, store_id) -> bool:
        return cls.model.objects.filter(store_id=store_id, status=JobStatus.RUNNING).exists()

    # Sending

    @classmethod
    def start(
        cls,
        *,
        store=None,
        trigger: str = JobTrigger.API,
        params: dict | None = None,
        requested_by=None,
        task_options: dict | None = None,
    ) -> Job:
        """Insert the queued row and send its message (with a token) once the transaction commits."""
        job = cls.create(store=store, trigger=trigger, params=params, requested_by=requested_by)
        cls.send(job, **(task_options or {}))
        return job

    @classmethod
    def send(
        cls,
        job: Job,
        *,
        token: str | None = None,
        countdown: float | None = None,
        on_commit: bool = True,
        **task_options,
    ) -> None:
        """Send a message for the job (a new token unless one is given), its priority from the job's."""
        token = token or uuid.uuid4().hex
        cls.model.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
        options = {"priority": cls.celery_priorities.get(job.priority, cls.default_celery_priority), **task_options}
        if countdown:
            options["countdown"] = max(0.0, min(countdown, settings.CELERY_MAX_COUNTDOWN))
        cls.enqueue(job, token, on_commit=on_commit, **options)

    @classmethod
    def kick_next(cls, store_id) -> Job | None:
        """Send the message of the store's next waiting job, if none runs."""
        if cls.running(store_id):
            return None
        line = cls.line(store_id)
        if not line:
            return None
        cls.send(line[0])
        return line[0]

    # Running

    @classmethod
    def claim(cls, job_id, token: str) -> Job | None:
        """The job, now running for this message; None when it is not this message's turn."""
        store_id = cls.model.objects.filter(pk=job_id).values_list("store_id", flat=True).first()
        if store_id is None:
            return None
        cancel = ""
        with transaction.atomic():
            refusal = cls.hold_line(store_id)
            job = cls.model.objects.select_for_update().get(pk=job_id)
            if not job.is_active:
                return None
            if job.status == JobStatus.RUNNING:
                if job.claim_token != token:
                    return None  # a second message for a job another worker runs
            else:
                if refusal:
                    cancel = refusal
                elif cls.running(store_id):
                    return None  # waits; sent again when the running job finishes
                elif cls.line(store_id)[0].pk != job.pk:
                    return None
                job.status = JobStatus.RUNNING
                job.claim_token = token
            if not cancel:
                now = timezone.now()
                job.attempts += 1
                job.started_at = job.started_at or now
                job.heartbeat_at = now
                job.save(update_fields=["status", "claim_token", "attempts", "started_at", "heartbeat_at"])
        if cancel:
            cls(job).finish(status=JobStatus.CANCELLED, message=cancel)
            return None
        job_changed.send(sender=cls.model, job=job)
        return job

    @classmethod
    def execute(cls, job_id, token: str = "") -> Job | None:
        """The task body: claim, run, finish; a transient failure sends the job again later."""
        job = cls.claim(job_id, token)
        if job is None:
            return None
        runner = cls(job)
        finished = True
        with log_context(job_id=job.pk, store_id=job.store_id):
            try:
                runner.run()
            except JobCancelled as exc:
                runner.finish(status=JobStatus.CANCELLED, message=str(exc) or cls.cancel_message)
            except SoftTimeLimitExceeded:
                runner.finish(
                    status=JobStatus.FAILED,
                    message="SYNC_TIMEOUT: the job exceeded its time limit.",
                    error_code=ErrorCode.SYNC_TIMEOUT,
                )
            except Exception as exc:  # the job must end in a final state whatever broke
                if isinstance(exc, InterfaceError | OperationalError) and _drop_lost_connection():
                    # The row cannot be written without a connection: a retry resumes the job (same token).
                    logger.warning("job %s lost its database connection; retrying", job.pk)
                    raise JobInterrupted(f"{type(exc).__name__}: {exc}") from exc
                known = cls.failure(exc)
                if known is None:
                    logger.exception("%s %s failed", cls.model._meta.verbose_name, job.pk)
                    runner.finish(
                        status=JobStatus.FAILED,
                        message=f"{type(exc).__name__}: {exc}",
                        error_code=ErrorCode.INTERNAL_ERROR,
                    )
                else:
                    code, message, transient = known
                    if transient:
                        finished = runner.retry_later(token, code, message)
                    else:
                        runner.finish(status=JobStatus.FAILED, message=f"{code}: {message}", error_code=code)
            else:
                job.refresh_from_db()
                status = JobStatus.PARTIAL if job.items_failed or job.error_count else JobStatus.SUCCEEDED
                runner.finish(status=status, result=runner.result())
        if finished:
            runner.after_run()
            cls.kick_next(job.store_id)
        return job

    def retry_later(self, token: str, code: str, message: str) -> bool:
        """Send the job again after a backoff; fail it after the last attempt. True if it finished."""
        job = self.job
        job.refresh_from_db()
        attempt = job.retries + 1
        if attempt >= self.max_attempts:
            self.finish(
                status=JobStatus.FAILED,
                message=f"{code}: {message} (gave up after {attempt} attempts)",
                error_code=code,
            )
            return True
        self.model.objects.filter(pk=job.pk).update(retries=F("retries") + 1, message=f"{code}: {message}; retrying")
        delay = backoff_delay(attempt, base=self.retry_backoff, cap=self.retry_backoff_cap)
        name = self.model._meta.verbose_name
        logger.warning("%s %s: %s; attempt %d in %.0fs", name, job.pk, message, attempt + 1, delay)
        self.send(job, token=token, countdown=delay, on_commit=False)
        return False

    # Reaping

    @classmethod
    def queued_job_is_lost(cls, job: Job) -> bool:
        """A job waiting behind an active job of its store (one running, or one ahead of it in the
        line) is not lost. The head of the line is lost when it has not started within
        ``JOB_STALE_AFTER`` of becoming the head (its creation, or the end of the store's last job)."""
        if cls.running(job.store_id):
            return False
        line = cls.line(job.store_id)
        if line and line[0].pk != job.pk:
            return False
        last_end = cls.model.objects.filter(store_id=job.store_id).aggregate(last=Max("finished_at"))["last"]
        waiting_since = max(job.created_at, last_end) if last_end else job.created_at
        return waiting_since < timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER)
