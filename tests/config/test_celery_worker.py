"""The Celery configuration against a real worker: redelivery after a lost worker, and its cap."""

import uuid

import pytest
import redis
from django.conf import settings

from catalog.models import ImportRun
from config.jobs import JobRunner, JobStatus, wait_for_job
from tests.plugins import worker_tasks
from tests.plugins.faults import wait_until

pytestmark = pytest.mark.worker


def broker() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def runs(key: str) -> int:
    return int(redis.Redis.from_url(settings.REDIS_URL).get(key) or 0)


def message_is_gone(task_id: str, queue: str) -> bool:
    """Neither waiting in ``queue`` nor delivered and unacknowledged: nothing can run it again."""
    waiting = any(task_id.encode() in message for message in broker().lrange(queue, 0, -1))
    unacked = any(task_id.encode() in message for message in broker().hvals("unacked"))
    return not waiting and not unacked


class KillerRunner(JobRunner, register=False):
    model = ImportRun
    kind = "fault"
    task_name = worker_tasks.job_that_kills_its_worker.name


def test_a_task_that_keeps_killing_its_worker_is_dropped_after_the_cap(hub_worker):
    key = f"test:runs:{uuid.uuid4().hex}"
    task = worker_tasks.kill_own_worker.delay(key)
    # acks_late + reject_on_worker_lost: redelivered at once after each death, until the cap (2).
    wait_until(lambda: runs(f"{key}:dropped") == 1, timeout=120, what="the cap dropping the message")
    wait_until(lambda: message_is_gone(task.id, hub_worker.queue), timeout=30, what="the message gone")
    assert runs(key) == 3
    assert hub_worker.process.poll() is None  # the worker's main process survives its children


def test_a_job_whose_task_keeps_killing_its_worker_ends_failed(hub_worker, store):
    key = f"test:runs:{uuid.uuid4().hex}"
    job = KillerRunner.create(store=store)
    KillerRunner.enqueue(job, key)
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
        wait_until(lambda: broker().llen(f"{kind_queues}.photosync") == 1, timeout=30, what="the queued message")
        # It stays there: the only worker consumes its catalog queue and nothing else.
        consumed = celery_app.control.inspect([catalog_worker.name], timeout=5).active_queues()
        assert [queue["name"] for queue in consumed[catalog_worker.name]] == [f"{kind_queues}.catalog"]
        images.refresh_from_db()
        assert images.status == JobStatus.QUEUED
    finally:
        catalog_worker.stop()
        shop.shutdown()
        celery_app.conf.task_always_eager = True
        broker().delete(f"{kind_queues}.photosync")
