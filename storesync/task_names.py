"""The registered names of storesync's Celery tasks, and their lookup by name.

Services, the runner and the webhooks send tasks by name, so nothing imports ``storesync.tasks``
(which imports them): no import cycle, and the names (which beat rows and queued messages
carry) are written once.
"""

from config.celery import app as celery_app

RUN_STORE_SYNC = "storesync.tasks.run_store_sync"
DISPATCH_DUE_SYNCS = "storesync.tasks.dispatch_due_syncs"
DELIVER_WEBHOOK = "storesync.tasks.deliver_webhook"
DISPATCH_WEBHOOKS = "storesync.tasks.dispatch_webhooks"
EVALUATE_ALERTS = "storesync.tasks.evaluate_alerts"


def task_by_name(name: str):
    """A registered Celery task (works in eager mode too); imports the apps' task modules if needed."""
    if name not in celery_app.tasks:
        celery_app.loader.import_default_modules()
    return celery_app.tasks[name]
