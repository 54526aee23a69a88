"""Fail jobs that can no longer finish, so a lost message never blocks a store for good.

A running job whose worker stopped reporting (no heartbeat for ``JOB_STALE_AFTER``) and a
queued job whose message never reached a worker within that time (Redis lost it, or no
worker consumes its queue) would otherwise keep the store's one active slot forever.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.apps import apps
from django.conf import settings
from django.utils import timezone

from config.jobs import Job, JobStatus, fail_job, fail_stale_jobs

logger = logging.getLogger(__name__)

NEVER_STARTED = "No worker started this job in time (its message was lost, or no worker takes its queue)."


def job_models() -> list[type[Job]]:
    return [model for model in apps.get_models() if issubclass(model, Job)]


def fail_unstarted_jobs(model: type[Job]) -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER)
    stale = list(model.objects.filter(status=JobStatus.QUEUED, created_at__lt=cutoff).values_list("pk", flat=True))
    for job_id in stale:
        fail_job(model, job_id, NEVER_STARTED)
    return len(stale)


def reap_stale_jobs() -> dict[str, int]:
    """Fail stale running and queued jobs of every job table; returns the count per table."""
    reaped = {}
    for model in job_models():
        count = fail_stale_jobs(model) + fail_unstarted_jobs(model)
        if count:
            logger.warning("failed %s stale %s", count, model._meta.verbose_name_plural)
            reaped[model._meta.label] = count
    return reaped


@shared_task(name="config.reaper.reap_stale_jobs")
def reap_stale_jobs_task() -> dict[str, int]:
    return reap_stale_jobs()
