"""The Celery application: acks late, one prefetched task, time limits, a redelivery cap."""

import os

from celery import Celery, Task
from celery.exceptions import Reject

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class HubTask(Task):
    """Base task that refuses to run a message whose worker died too many times.

    With ``acks_late`` and ``reject_on_worker_lost``, a task that kills its worker (out of
    memory, a segfault in an image library) is redelivered forever: Redis keeps no delivery
    count. We count deliveries ourselves in the cache (Redis in production) and drop the
    message once it passes ``CELERY_MAX_REDELIVERIES``.
    """

    def __call__(self, *args, **kwargs):
        if not self.request.is_eager and self.request.id:
            from django.conf import settings
            from django.core.cache import cache

            key = f"celery:deliveries:{self.request.id}"
            cache.add(key, 0, timeout=settings.CELERY_VISIBILITY_TIMEOUT * 4)
            deliveries = cache.incr(key)
            if deliveries > settings.CELERY_MAX_REDELIVERIES + 1:
                self.on_redelivery_limit(args, kwargs)
                raise Reject(f"task {self.request.id} lost its worker {deliveries - 1} times", requeue=False)
        return super().__call__(*args, **kwargs)

    def after_return(self, status, retval, task_id, args, kwargs, einfo):
        if not self.request.is_eager and task_id:
            from django.core.cache import cache

            cache.delete(f"celery:deliveries:{task_id}")
        super().after_return(status, retval, task_id, args, kwargs, einfo)

    def on_redelivery_limit(self, args, kwargs) -> None:
        """Hook for job tasks: mark their job failed."""


def own_queue(suffix: str) -> str:
    """The name of a queue of its own: "<default queue>.<suffix>" (``celery.webhooks``)."""
    return f"{app.conf.task_default_queue}.{suffix}"


def route_to_own_queue(name, args, kwargs, options, task=None, **kw):
    """Celery router for ``CELERY_OWN_QUEUES``; the default queue is read when the task is
    sent, so a process that renames it (a test worker) routes to its own queues."""
    from django.conf import settings

    suffix = settings.CELERY_OWN_QUEUES.get(name)
    return {"queue": own_queue(suffix)} if suffix else None


app = Celery("retail_sync_hub", task_cls=HubTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from config import observability  # noqa: E402,F401  (connects the request-id task signals)
