"""The Celery configuration against a real worker: redelivery after a lost worker, and its cap."""

import time
import uuid

import pytest
import redis
from django.conf import settings

from catalog.models import ImportRun
from config.jobs import JobStatus, enqueue_job, start_job, wait_for_job
from tests.plugins import worker_tasks

pytestmark = pytest.mark.worker


def runs(key: str) -> int:
    return int(redis.Redis.from_url(settings.REDIS_URL).get(key) or 0)


def wait_for_runs(key: str, expected: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while runs(key) < expected and time.monotonic() < deadline:
        time.sleep(0.2)


def test_a_task_that_keeps_killing_its_worker_is_dropped_after_the_cap(hub_worker):
    key = f"test:runs:{uuid.uuid4().hex}"
    worker_tasks.kill_own_worker.delay(key)
    # acks_late + reject_on_worker_lost: redelivered at once after each death, until the cap (2).
    wait_for_runs(key, 3)
    time.sleep(3)
    assert runs(key) == 3
    assert hub_worker.process.poll() is None  # the worker's main process survives its children


def test_a_job_whose_task_keeps_killing_its_worker_ends_failed(hub_worker, store):
    key = f"test:runs:{uuid.uuid4().hex}"
    job = start_job(ImportRun, kind="fault", store=store)
    enqueue_job(job, worker_tasks.job_that_kills_its_worker.s(counter_key=key))
    job = wait_for_job(job, timeout=150)
    assert job.status == JobStatus.FAILED
    assert "killing its worker" in job.message
    assert job.attempts == 3 and runs(key) == 3


@pytest.fixture
def kind_queues(hub_worker_process):
    """Route each app's tasks to "<queue>.<app>" for this test, as CELERY_QUEUE_PER_KIND does."""
    from config.celery import app as celery_app

    base = f"test-{uuid.uuid4().hex[:10]}"
    routes = {f"{app}.*": {"queue": f"{base}.{app}"} for app in settings.JOB_KIND_APPS}
    previous = celery_app.conf.task_routes

    def use(table):
        celery_app.conf.task_routes = table
        celery_app.amqp.flush_routes()
        celery_app.amqp.__dict__.pop("router", None)  # a cached property: rebuilt on next use

    use(routes)
    yield base
    use(previous)


def test_with_a_queue_per_kind_a_worker_takes_only_its_kind(kind_queues, transactional_db, settings, make_store):
    from catalog.services import start_product_import
    from config.celery import app as celery_app
    from shopsim import DEMO_API_KEY, run_in_thread
    from tests.plugins.worker import WorkerProcess, worker_env

    settings.PLATFORM_URL_ALLOWLIST = ["127.0.0.1"]
    shop = run_in_thread("127.0.0.1", 0, products=5)
    celery_app.conf.task_always_eager = False
    catalog_worker = WorkerProcess(
        f"{kind_queues}.catalog",
        worker_env(kind_queues, CELERY_QUEUE_PER_KIND="true", PLATFORM_URL_ALLOWLIST="127.0.0.1"),
    )
    catalog_worker.start()
    try:
        store = make_store("kinds", platform="prestashop", platform_url=shop.url, platform_api_key=DEMO_API_KEY)
        imported = wait_for_job(start_product_import(store), timeout=60)
        assert imported.status == JobStatus.SUCCEEDED and imported.items_processed == 5

        # An image sync goes to the photosync queue, which this worker does not consume.
        from photosync.imagesync.runner import start_image_sync

        images = start_image_sync(store)
        time.sleep(3)
        images.refresh_from_db()
        assert images.status == JobStatus.QUEUED
        queued = redis.Redis.from_url(settings.REDIS_URL).llen(f"{kind_queues}.photosync")
        assert queued == 1
    finally:
        catalog_worker.stop()
        shop.shutdown()
        celery_app.conf.task_always_eager = True
        redis.Redis.from_url(settings.REDIS_URL).delete(f"{kind_queues}.photosync")
