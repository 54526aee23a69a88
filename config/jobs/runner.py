"""The job runner: one class per kind of job, and the one place that writes a job's state.

A runner subclass names its table (``model``), its ``kind`` and its Celery task by name
(``task_name``), and implements :meth:`JobRunner.run`. Everything else is here: start
exclusively per (kind, store), enqueue on commit, claim, progress counters and errors,
finish with an ``error_code``, and what the stale-job reaper may fail. Services start jobs
through their runner and never import tasks; a task is one line that calls
:meth:`JobRunner.execute`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import ClassVar

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from config.celery import app as celery_app
from config.error_codes import ErrorCode
from config.jobs import lifecycle
from config.jobs.models import BrokerUnavailable, Job, JobStatus, JobTrigger

logger = logging.getLogger(__name__)

_runners: dict[str, type[JobRunner]] = {}

NEVER_STARTED = "No worker started this job in time (its message was lost, or no worker takes its queue)."
NOT_SENT = "The job queue (the Celery broker) was unavailable: the job's message could not be sent."


class JobRunner:
    """One kind of job; subclasses set ``model``, ``kind`` and ``task_name`` and implement ``run``."""

    model: ClassVar[type[Job]]
    kind: ClassVar[str] = ""
    task_name: ClassVar[str] = ""
    task_options: ClassVar[dict] = {}

    def __init_subclass__(cls, register: bool = True, **kwargs) -> None:
        """A subclass that names its ``model`` becomes that table's runner (``register=False``: not)."""
        super().__init_subclass__(**kwargs)
        if register and "model" in cls.__dict__:
            _runners[cls.model._meta.label_lower] = cls

    def __init__(self, job: Job) -> None:
        self.job = job

    # Starting

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
        """Insert the queued row (``JobAlreadyRunning`` if one is active) and send its task on commit."""
        job = cls.create(store=store, trigger=trigger, params=params, requested_by=requested_by)
        cls.enqueue(job, **(task_options or {}))
        return job

    @classmethod
    def create(cls, *, store=None, trigger: str = JobTrigger.API, params: dict | None = None, requested_by=None):
        """Insert the queued row without sending a task (a job run in this process)."""
        return lifecycle.start_job(
            cls.model, kind=cls.kind, store=store, trigger=trigger, params=params, requested_by=requested_by
        )

    @classmethod
    def enqueue(cls, job: Job, *extra_args, on_commit: bool = True, **task_options) -> None:
        """Send ``task_name(job id, *extra_args)``, once the current transaction commits by default.

        A message the broker refuses fails the job at once (``BrokerUnavailable``, 503): a queued
        row without a message would hold its store's one active slot until the reaper's cutoff.
        """
        task = celery_task(cls.task_name)
        task_id = str(uuid.uuid4())
        type(job).objects.filter(pk=job.pk).update(celery_task_id=task_id)
        job.celery_task_id = task_id
        options = {**cls.task_options, **task_options}

        def send() -> None:
            try:
                task.apply_async(args=[str(job.pk), *extra_args], task_id=task_id, **options)
            except BrokerError as exc:
                logger.error("job %s: its message could not be sent: %s", job.pk, exc)
                cls.fail(job.pk, NOT_SENT, error_code=ErrorCode.BROKER_UNAVAILABLE)
                job.refresh_from_db()
                raise BrokerUnavailable(job) from exc

        if on_commit:
            transaction.on_commit(send)
        else:
            send()

    # Running

    @classmethod
    def execute(cls, job_id, **options) -> Job | None:
        """Claim the job, run it, finish it whatever happens; None if it is missing or finished.

        ``options`` go to the runner's constructor: what a run in this process needs and the job
        row must not hold (credentials, a progress callback).
        """
        return lifecycle.run_job(cls.model, job_id, lambda job: cls(job, **options).run())

    def run(self) -> None:
        raise NotImplementedError

    def progress(
        self,
        *,
        total: int | None = None,
        processed: int = 0,
        succeeded: int = 0,
        failed: int = 0,
        counters: dict[str, int] | None = None,
        errors: Iterable[dict] = (),
    ) -> Job:
        """Add to the job's counters atomically (several workers may share one job)."""
        return lifecycle.record_progress(
            self.job,
            total=total,
            processed=processed,
            succeeded=succeeded,
            failed=failed,
            counters=counters,
            errors=errors,
        )

    def finish(
        self, *, status: str | None = None, message: str = "", result: dict | None = None, error_code: str = ""
    ) -> Job:
        """Put the job in a final state (computed from its counters unless given)."""
        return lifecycle.finish_job(self.job, status=status, message=message, result=result, error_code=error_code)

    @classmethod
    def fail(cls, job_id, message: str, *, error_code: str = "INTERNAL_ERROR") -> None:
        """Fail an active job without a worker (lost worker, redelivery limit, the reaper)."""
        lifecycle.fail_job(cls.model, job_id, message, error_code=error_code)

    # Reaping

    @classmethod
    def queued_job_is_lost(cls, job: Job) -> bool:
        """Asked about a job still queued after ``JOB_STALE_AFTER``: its message was lost."""
        return True

    @classmethod
    def reap(cls) -> int:
        """Fail this table's running jobs that stopped reporting and its lost queued jobs."""
        count = lifecycle.fail_stale_jobs(cls.model)
        cutoff = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER)
        for job in cls.model.objects.filter(status=JobStatus.QUEUED, created_at__lt=cutoff):
            if cls.queued_job_is_lost(job):
                cls.fail(job.pk, NEVER_STARTED)
                count += 1
        return count


def runner_for(model_or_label) -> type[JobRunner]:
    """The runner registered for a job table (a model class or ``"app_label.Model"``)."""
    label = model_or_label if isinstance(model_or_label, str) else model_or_label._meta.label
    try:
        return _runners[label.lower()]
    except KeyError:
        # A table without a runner of its own: the base behaviour.
        model = model_or_label if not isinstance(model_or_label, str) else _model(label)
        return type(f"{model.__name__}Runner", (JobRunner,), {"model": model, "kind": ""})


def _model(label: str) -> type[Job]:
    return apps.get_model(label)


def celery_task(name: str):
    """The registered task called ``name``, importing the task modules first as a worker would."""
    if name not in celery_app.tasks:
        celery_app.loader.import_default_modules()
    return celery_app.tasks[name]
