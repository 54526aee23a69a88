"""Celery tasks of the NAS sync: one-line wrappers around its runner and services. Names never change."""

from celery import shared_task

from config.jobs import JobTask
from nasync import services


@shared_task(base=JobTask, job_model="nasync.NasSyncRun", name="nasync.tasks.nas_sync_task")
def nas_sync_task(job_id: str) -> None:
    services.NasSyncRunner.execute(job_id)


@shared_task(name="nasync.tasks.scheduled_nas_sync")
def scheduled_nas_sync_task() -> str:
    """Beat (every 15 minutes by default, editable in the admin): sync the documents that are due."""
    return services.scheduled_nas_sync()
