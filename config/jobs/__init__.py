"""Tracked long-running jobs, written once for every app (NetBox keeps its job runner the same way).

Each app's run table inherits :class:`Job`; each kind of job has a :class:`JobRunner`
subclass (``runner``) that starts, enqueues, runs, reports and finishes it. ``queued`` and
``chunked`` hold the two specialised runners (a per-store line of waiting jobs; a job split
into leased chunks), ``backoff`` the one retry delay, ``tasks`` the Celery base task.
"""

from config.jobs.backoff import backoff_delay
from config.jobs.lifecycle import (
    fail_job,
    fail_stale_jobs,
    finish_job,
    lock_key_for,
    outcome_status,
    record_progress,
    run_job,
    start_job,
    wait_for_job,
)
from config.jobs.models import (
    ACTIVE_STATUSES,
    MAX_RECORDED_ERRORS,
    BrokerUnavailable,
    Job,
    JobAlreadyRunning,
    JobInterrupted,
    JobStatus,
    JobTrigger,
    job_changed,
    job_models,
)
from config.jobs.runner import JobRunner, celery_task, runner_for
from config.jobs.tasks import JobTask

__all__ = [
    "ACTIVE_STATUSES",
    "MAX_RECORDED_ERRORS",
    "BrokerUnavailable",
    "Job",
    "JobAlreadyRunning",
    "JobInterrupted",
    "JobRunner",
    "JobStatus",
    "JobTask",
    "JobTrigger",
    "backoff_delay",
    "celery_task",
    "fail_job",
    "fail_stale_jobs",
    "finish_job",
    "job_changed",
    "job_models",
    "lock_key_for",
    "outcome_status",
    "record_progress",
    "run_job",
    "runner_for",
    "start_job",
    "wait_for_job",
]
