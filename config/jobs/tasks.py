"""The Celery base task of job tasks: a job whose task keeps dying or losing the database fails."""

from __future__ import annotations

from django.apps import apps

from config.celery import HubTask
from config.jobs.lifecycle import fail_job
from config.jobs.models import JobInterrupted


class JobTask(HubTask):
    """Base for tasks whose first argument is a job id; ``job_model`` names the table."""

    job_model: str = ""
    # A job whose database connection was cut resumes on a retry (Celery's autoretry).
    autoretry_for = (JobInterrupted,)
    retry_backoff = 1
    retry_backoff_max = 60
    max_retries = 5

    def on_redelivery_limit(self, args, kwargs) -> None:
        if self.job_model and args:
            fail_job(apps.get_model(self.job_model), args[0], "The job kept killing its worker and was stopped.")

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        if isinstance(exc, JobInterrupted) and self.job_model and args:  # out of retries
            fail_job(apps.get_model(self.job_model), args[0], f"The job kept losing its database connection: {exc}")
