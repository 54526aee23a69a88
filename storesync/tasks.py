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


@shared_task(name="storesync.tasks.deliver_webhook", acks_late=True)
def deliver_webhook_task(delivery_id: str, token: str) -> None:
    """One attempt of an outbound webhook (its retries are scheduled in the database)."""
    from storesync.webhooks_out import attempt

    attempt(delivery_id, token)


@shared_task(name="storesync.tasks.dispatch_webhooks")
def dispatch_webhooks_task() -> int:
    """Every minute (django-celery-beat): attempt the deliveries that are due."""
    from storesync.webhooks_out import dispatch_due

    return dispatch_due()


@shared_task(name="storesync.tasks.evaluate_alerts")
def evaluate_alerts_task() -> dict[str, int]:
    """Every minute (django-celery-beat): open, keep or resolve alerts."""
    from storesync.alerts import evaluate_all

    return evaluate_all()
