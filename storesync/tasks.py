"""Celery tasks: thin wrappers that take ids and call the runner, the services and the wings.

Nothing in storesync imports this module: jobs and webhook attempts are sent by task name.
"""

from celery import shared_task

from config.jobs import JobTask
from storesync import services, task_names
from storesync.health import alerts
from storesync.runner import StoreSyncRunner
from storesync.webhooks import outbound


@shared_task(base=JobTask, job_model="storesync.StoreSyncJob", name=task_names.RUN_STORE_SYNC)
def run_store_sync_task(job_id: str, token: str) -> None:
    StoreSyncRunner.execute(job_id, token)


@shared_task(name=task_names.DISPATCH_DUE_SYNCS)
def dispatch_due_syncs_task() -> dict[str, int]:
    """Every minute (django-celery-beat, created by a data migration)."""
    return services.dispatch_due_syncs()


@shared_task(name=task_names.SWEEP_DELETES)
def sweep_deletes_task() -> dict[str, int]:
    """Daily (django-celery-beat, created by a data migration): sweep the shops for deleted records."""
    return services.sweep_deletes()


@shared_task(name=task_names.DELIVER_WEBHOOK, acks_late=True)
def deliver_webhook_task(delivery_id: str, token: str) -> None:
    """One attempt of an outbound webhook (its retries are scheduled in the database)."""
    outbound.attempt(delivery_id, token)


@shared_task(name=task_names.DISPATCH_WEBHOOKS)
def dispatch_webhooks_task() -> int:
    """Every minute (django-celery-beat): attempt the deliveries that are due."""
    return outbound.dispatch_due()


@shared_task(name=task_names.EVALUATE_ALERTS)
def evaluate_alerts_task() -> dict[str, int]:
    """Every minute (django-celery-beat): open, keep or resolve alerts."""
    return alerts.evaluate_all()
