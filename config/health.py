"""Liveness and readiness probes (no auth, no secrets in the answers)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.runtime import runtime_status


@never_cache
@require_GET
def healthz(request):
    """The process is up; touches nothing else."""
    return JsonResponse({"status": "ok"})


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    import redis

    from config.celery import app

    client = redis.Redis.from_url(app.conf.broker_url, socket_connect_timeout=2, socket_timeout=2)
    client.ping()


def check_storage() -> None:
    name = default_storage.save(f"healthcheck/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    default_storage.delete(name)


def check_workers() -> None:
    from config.celery import app

    if not app.control.ping(timeout=2):
        raise RuntimeError("no Celery worker answered within 2 s")


class QueueSaturated(Exception):
    pass


def check_webhook_queue() -> None:
    """Outbound webhooks wait on their own queue: a backlog means their workers are down or
    too few for slow receivers, while the sync workers may still answer pings."""
    import redis

    from config.celery import app, own_queue

    client = redis.Redis.from_url(app.conf.broker_url, socket_connect_timeout=2, socket_timeout=2)
    if client.llen(own_queue("webhooks")) > settings.WEBHOOK_QUEUE_MAX_LENGTH:
        raise QueueSaturated()


def readiness_checks() -> dict[str, Callable[[], None]]:
    checks = {"database": check_database, "storage": check_storage}
    if not settings.EMBEDDED:
        checks["broker"] = check_broker
        checks["workers"] = check_workers
        checks["webhook_queue"] = check_webhook_queue
    return checks


@never_cache
@require_GET
def readyz(request):
    """200 when every dependency answers, else 503; one status per component."""
    components = {}
    for name, check in readiness_checks().items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # a probe reports every failure, whatever its type
            components[name] = {"status": "error", "error": type(exc).__name__}
        else:
            components[name] = {"status": "ok"}
        components[name]["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    ready = all(component["status"] == "ok" for component in components.values())
    runtime = runtime_status()
    return JsonResponse(
        {"status": "ok" if ready else "error", **runtime, "components": components},
        status=200 if ready else 503,
    )
