"""Celery tasks: thin wrappers that take ids and call the services."""

from celery import shared_task

from config.jobs import JobTask


@shared_task(base=JobTask, job_model="storesync.StoreSyncJob", name="storesync.tasks.run_store_sync")
def run_store_sync_task(job_id: str, token: str) -> None:
    from storesync.runner import execute_job

    execute_job(job_id, token)


@shared_task(name="storesync.tasks.dispatch_due_syncs")
def dispatch_due_syncs_task() -> dict[str, int]:
    """Every minute (django-celery-beat, created by a data migration)."""
    from storesync.services import dispatch_due_syncs

    return dispatch_due_syncs()
