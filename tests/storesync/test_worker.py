"""Store syncs on real Celery workers: jobs wait for their turn in order, and a job whose
worker is killed mid-way finishes after Redis redelivers it, applying no record twice."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest
from django.db.models import F
from django.db.models.functions import Now

from catalog.models import Product
from config.celery import app as celery_app
from config.jobs import wait_for_job
from storesync import services
from storesync.presenters import job_detail
from tests.plugins.services import require_postgres, require_redis
from tests.plugins.simulator import sim_get, sim_post, sim_stats
from tests.plugins.worker import WorkerProcess, worker_env
from tests.storesync.conftest import configure

pytestmark = pytest.mark.worker


def shop_store_for(make_store, sim, code="shop"):
    return make_store(code, platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key)


class HeldRequest:
    """The shop holds the first API request for which ``when(method)`` is true (``holding`` is
    set then) until ``release`` is set, then answers it as usual: a job stopped at a known
    point however fast or slow the machine is."""

    def __init__(self, sim, when: Callable[[str], bool]) -> None:
        self.holding, self.release = threading.Event(), threading.Event()
        next_failure = sim.shop.next_failure

        def held(method: str):
            if not self.holding.is_set() and when(method):
                self.holding.set()
                self.release.wait(timeout=120)
            return next_failure(method)

        sim.shop.next_failure = held


def test_jobs_of_a_store_run_one_at_a_time_in_priority_order(hub_worker, make_store, make_shop_simulator):
    sim = make_shop_simulator(products=20)
    store = shop_store_for(make_store, sim)
    configure(store, products={})
    sim_post(sim, "config", {"latency_ms": 15})
    first_request = HeldRequest(sim, lambda method: True)
    first = services.trigger_sync(store, sync_type="full")
    assert first_request.holding.wait(timeout=60), "the first job never reached the shop"
    low = services.trigger_sync(store, priority="low")  # both queued while the first one runs
    high = services.trigger_sync(store, priority="high")
    first_request.release.set()
    jobs = [wait_for_job(job, timeout=90) for job in (first, low, high)]
    assert [job.status for job in jobs] == ["succeeded"] * 3, [job.message for job in jobs]
    first, low, high = jobs
    assert first.finished_at <= high.started_at and high.finished_at <= low.started_at
    assert Product.objects.filter(store=store).count() == 20


@pytest.fixture
def fragile_worker(transactional_db, settings):
    """A worker of its own whose unacknowledged messages Redis hands out again after 3 s."""
    require_postgres()
    require_redis()
    queue = f"test-kill-{uuid.uuid4().hex[:8]}"
    env = worker_env(
        queue,
        CELERY_VISIBILITY_TIMEOUT="3",
        STORESYNC_WRITE_CONCURRENCY="1",
        STORESYNC_BATCH_SIZE="4",
        STORESYNC_PAGE_SIZE="4",
    )
    worker = WorkerProcess(queue, env, concurrency=1)
    previous_queue, previous_eager = celery_app.conf.task_default_queue, celery_app.conf.task_always_eager
    celery_app.conf.task_default_queue, celery_app.conf.task_always_eager = queue, False
    worker.start()
    yield worker
    worker.stop()
    celery_app.conf.task_default_queue, celery_app.conf.task_always_eager = previous_queue, previous_eager


def test_a_worker_killed_mid_job_finishes_it_after_redelivery_without_writing_twice(
    fragile_worker, make_store, make_shop_simulator
):
    sim = make_shop_simulator(products=24, customers=0, orders=0)
    store = shop_store_for(make_store, sim)
    configure(store, products={})
    assert services.run_sync_now(store, sync_type="full").status == "succeeded"
    Product.objects.filter(store=store).update(price=F("price") + 1, inventory=F("inventory") + 3, updated_at=Now())
    sim_post(sim, "reset_stats")
    sim_post(sim, "config", {"latency_ms": 30})

    seventh_write = HeldRequest(
        sim, lambda method: method in ("PUT", "PATCH") and sim.shop.stats.as_dict().get("product_write", 0) >= 6
    )
    job = services.trigger_sync(store)
    assert seventh_write.holding.wait(timeout=120), "the job never reached its seventh write"
    fragile_worker.kill()  # while the shop holds that write
    killed_at = sim_stats(sim)["product_write"]
    seventh_write.release.set()  # it lands, as a write sent just before a crash may
    job.refresh_from_db()
    assert job.status == "running" and killed_at == 6
    # Progress was reported while it ran: the first batch of 4 was committed before the next one's writes.
    progress = job_detail(job)["progress"]
    assert progress["records_processed"] >= 4 and progress["percentage"] > 0
    assert progress["current_entity"] == "products"
    time.sleep(3.5)  # past the visibility timeout: the restarted worker takes the message back
    fragile_worker.start()

    job = wait_for_job(job, timeout=120)
    assert job.status == "succeeded", job.message
    assert job.attempts == 2
    stats = sim_stats(sim)
    assert stats["product_write"] == 24  # every record written once, none twice
    assert stats["stock_write"] == 24
    for product in Product.objects.filter(store=store):
        raw = sim_get(sim, f"products/{product.id_origin}")
        assert raw["price"] == f"{product.price:.6f}" and int(raw["quantity"]) == product.inventory
    # Records of the interrupted batch whose writes landed are found equal on replay: not counted again.
    assert 24 - 4 <= job.entity_results["products"]["records_updated"] <= 24


def test_priorities_travel_as_celery_message_priorities(db, make_store, sim, django_capture_on_commit_callbacks):
    """``high``, ``normal`` and ``low`` become Celery priorities 0, 3 and 6: on Redis, kombu keeps
    one list per priority step and a worker drains the lower numbers first."""
    import redis
    from django.conf import settings as django_settings

    require_redis()
    queue = f"test-priority-{uuid.uuid4().hex[:8]}"
    lists = {"high": queue, "normal": f"{queue}\x06\x163", "low": f"{queue}\x06\x166"}
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    previous_queue, previous_eager = celery_app.conf.task_default_queue, celery_app.conf.task_always_eager
    celery_app.conf.task_default_queue, celery_app.conf.task_always_eager = queue, False
    try:
        for priority in ("low", "high", "normal"):
            store = shop_store_for(make_store, sim, code=f"prio-{priority}")
            configure(store, products={})
            with django_capture_on_commit_callbacks(execute=True):
                services.trigger_sync(store, priority=priority)
        assert {name: broker.llen(key) for name, key in lists.items()} == {"high": 1, "normal": 1, "low": 1}
    finally:
        broker.delete(*lists.values())
        celery_app.conf.task_default_queue, celery_app.conf.task_always_eager = previous_queue, previous_eager
