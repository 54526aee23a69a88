"""The registered names of storesync's Celery tasks (``config.jobs.celery_task`` looks them up).

Services, the runner and the webhooks send tasks by name, so nothing imports ``storesync.tasks``
(which imports them): no import cycle, and the names (which beat rows and queued messages
carry) are written once.
"""

RUN_STORE_SYNC = "storesync.tasks.run_store_sync"
DISPATCH_DUE_SYNCS = "storesync.tasks.dispatch_due_syncs"
DELIVER_WEBHOOK = "storesync.tasks.deliver_webhook"
DISPATCH_WEBHOOKS = "storesync.tasks.dispatch_webhooks"
EVALUATE_ALERTS = "storesync.tasks.evaluate_alerts"
SWEEP_DELETES = "storesync.tasks.sweep_deletes"
