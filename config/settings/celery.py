"""Celery (see config/celery.py): broker, time limits, redelivery, queues and the beat scheduler."""

from config.settings.base import EMBEDDED, REDIS_URL, env

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=EMBEDDED)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=55 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60 * 60)
# Longer than the hard time limit and than any countdown we schedule, so Redis never
# hands a task that is still running to a second worker.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 15 * 60)
CELERY_MAX_COUNTDOWN = max(0, CELERY_VISIBILITY_TIMEOUT - 5 * 60)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# Scale-out by kind of job: each app's tasks go to a queue of their own, named
# "<default queue>.<app>" (celery.photosync, celery.storesync, ...), so workers can be sized
# and placed per kind (`celery worker -Q celery.photosync`). Off: everything on the default queue.
CELERY_QUEUE_PER_KIND = env.bool("CELERY_QUEUE_PER_KIND", default=False)
JOB_KIND_APPS = ("catalog", "photosync", "nasync", "storesync")
# Tasks that wait on hosts we do not control have a queue of their own, "<default queue>.<suffix>",
# served by workers of their own (`celery worker -Q celery.webhooks`): a slow webhook receiver
# can then hold only the webhook workers, never the ones that sync. Routed before the kinds.
CELERY_OWN_QUEUES = {"storesync.tasks.deliver_webhook": "webhooks"}
CELERY_TASK_ROUTES = [
    "config.celery.route_to_own_queue",
    {f"{app}.*": {"queue": f"{CELERY_TASK_DEFAULT_QUEUE}.{app}"} for app in JOB_KIND_APPS}
    if CELERY_QUEUE_PER_KIND
    else {},
]
# /readyz fails its "webhook_queue" check when more attempts than this wait on the webhooks queue.
WEBHOOK_QUEUE_MAX_LENGTH = env.int("WEBHOOK_QUEUE_MAX_LENGTH", default=1000)
# A task whose worker died this many times is dropped (and its job marked failed).
CELERY_MAX_REDELIVERIES = env.int("CELERY_MAX_REDELIVERIES", default=3)
# Periodic tasks live in django-celery-beat's tables (editable in the admin); each app
# creates its defaults in a data migration. The scheduler is django-celery-beat's, with a
# heartbeat (config/scheduler.py).
CELERY_BEAT_SCHEDULER = "config.scheduler:HubScheduler"
# The embedded server (make run, make demo) runs the beat schedule in a thread of its own, one
# server per VAR_DIR (a file lock); production runs `celery beat` instead. Off in the tests.
EMBEDDED_SCHEDULER = env.bool("EMBEDDED_SCHEDULER", default=EMBEDDED)
# Seconds between two tries of a server that waits for the scheduler lock.
SCHEDULER_LOCK_RETRY = env.int("SCHEDULER_LOCK_RETRY", default=15)
# The console and /readyz call the scheduler dead once its last tick is this old (seconds).
SCHEDULER_STALE_AFTER = env.int("SCHEDULER_STALE_AFTER", default=60)
# Task modules outside the apps' tasks.py (a worker registers only these and the apps'
# autodiscovered tasks.py): none, since the hub-wide tasks (prune, the reaper) live in operations/tasks.py.
CELERY_IMPORTS = ()
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
