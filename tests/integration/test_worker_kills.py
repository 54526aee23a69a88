"""A Celery worker SIGKILLed at a random point of a job, five times for each kind of job.

Each trial starts a job, waits until its progress passes a random mark (plus a random
fraction of a second), kills the whole worker (main process, pool, rsync and ssh), checks
that the hub reports the outage, and restarts the worker once Redis hands the lost
message out again. The job must then finish with every item done once: the shop's
writes are counted by the simulator, the NAS files on the real sshd's disk, the photos in
the database and storage. ``FAULT_SEED=<n>`` replays a failing sequence of kill points.
"""

from __future__ import annotations

import time

import pytest
from django.core.files.storage import default_storage
from django.db.models import F
from django.db.models.functions import Now

from catalog.models import Product
from config.jobs import JobStatus, wait_for_job
from nasync import services as nas_services
from nasync.models import Document, NasSyncRun
from photosync.imagesync.runner import start_image_sync
from photosync.models import ImageSyncRun, ProductPhoto
from storesync import services as store_services
from tests.nasync.conftest import pdf_bytes, uploaded
from tests.plugins.faults import in_process, wait_until
from tests.plugins.simulator import sim_get, sim_post, sim_stats
from tests.storesync.conftest import configure

pytestmark = pytest.mark.worker

TRIALS = 5


def kill_at_random_point(stack, worker, job, progressed, mark: int, *, user=None, probe: bool = False) -> float:
    """Kill ``worker`` once ``progressed()`` reaches ``mark`` (and a random instant later)."""
    wait_until(lambda: progressed() >= mark, timeout=60, what=f"progress {mark}")
    time.sleep(stack.random.uniform(0, 0.15))
    worker.kill()
    killed_at = time.monotonic()
    job.refresh_from_db()
    assert job.is_active, f"the job finished before the kill (mark {mark}); the data set is too small"
    if probe:  # once per suite: the outage is visible, the API unharmed
        stack.assert_degraded(user, "workers")
    return killed_at


def running_progress(model, job) -> int:
    row = model.objects.get(pk=job.pk)
    return row.items_processed if row.status == JobStatus.RUNNING else -1


def test_image_syncs_survive_a_worker_killed_at_a_random_point(
    fault_stack, make_shop_simulator, make_shop_store, admin_user
):
    worker = fault_stack.worker(IMAGE_SYNC_CHUNK_SIZE="5", IMAGE_SYNC_CHUNK_LEASE="3", IMAGE_SYNC_CONCURRENCY="1")
    products = 40
    for trial in range(TRIALS):
        sim = make_shop_simulator(products=products, latency_ms=30)
        store = make_shop_store(sim, code=f"img-{trial}")
        run = start_image_sync(store)
        mark = fault_stack.random.randint(1, products // 2)
        killed_at = kill_at_random_point(
            fault_stack,
            worker,
            run,
            lambda run=run: ImageSyncRun.objects.get(pk=run.pk).items_processed,
            mark,
            user=admin_user,
            probe=trial == 0,
        )
        fault_stack.restart_after_visibility(worker, killed_at)

        run = wait_for_job(run, timeout=90)
        assert run.status == JobStatus.SUCCEEDED, (trial, mark, run.message, run.errors[:3])
        assert run.items_processed == products and run.items_failed == 0, (trial, mark)
        photos = list(ProductPhoto.objects.filter(store=store))
        assert len(photos) == len({photo.product_id for photo in photos}) == products, (trial, mark)
        assert all(default_storage.exists(key) for photo in photos for key in photo.object_keys)
    fault_stack.assert_ready()


def test_nas_runs_survive_a_worker_killed_at_a_random_point(fault_stack, nas, admin_user):
    worker = fault_stack.worker(concurrency=1, **{**nas.env, "NAS_RSYNC_BATCH_SIZE": "2", "NAS_BWLIMIT": "150"})
    expected: dict[str, bytes] = {}
    count = 6
    for trial in range(TRIALS):
        documents = [
            nas_services.document_create(uploaded=uploaded(f"t{trial}-doc-{i}.pdf", pdf_bytes(30_000, f"{trial}:{i}")))
            for i in range(count)
        ]
        expected.update(
            {document.relative_path: pdf_bytes(30_000, f"{trial}:{i}") for i, document in enumerate(documents)}
        )
        run = nas_services.start_nas_sync()
        mark = fault_stack.random.choice([0, 2])  # 0: in the first rsync
        killed_at = kill_at_random_point(
            fault_stack,
            worker,
            run,
            lambda run=run: running_progress(NasSyncRun, run),
            mark,
            user=admin_user,
            probe=trial == 0,
        )
        fault_stack.restart_after_visibility(worker, killed_at)

        run = wait_for_job(run, timeout=90)
        assert run.status == JobStatus.SUCCEEDED, (trial, mark, run.message, run.errors[:3])
        assert Document.objects.filter(synced_to_nas=True).count() == len(expected)
        assert not Document.objects.filter(synced_to_nas=False).exists()
        assert nas.files() == expected, (trial, mark)  # every file once, whole, and nothing else
    fault_stack.assert_ready()


def test_store_syncs_survive_a_worker_killed_at_a_random_point(
    fault_stack, make_shop_simulator, make_store, admin_user, settings
):
    settings.STORESYNC_RETRY_BACKOFF = settings.STORESYNC_JOB_RETRY_BACKOFF = 0.01
    worker = fault_stack.worker(
        concurrency=1, STORESYNC_WRITE_CONCURRENCY="1", STORESYNC_BATCH_SIZE="4", STORESYNC_PAGE_SIZE="4"
    )
    products = 12
    for trial in range(TRIALS):
        sim = make_shop_simulator(products=products, customers=0, orders=0)
        store = make_store(f"shop-{trial}", platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key)
        configure(store, products={})
        with in_process():
            assert store_services.run_sync_now(store, sync_type="full").status == "succeeded"
        Product.objects.filter(store=store).update(price=F("price") + 1, inventory=F("inventory") + 3, updated_at=Now())
        sim_post(sim, "reset_stats")
        sim_post(sim, "config", {"latency_ms": 30})

        job = store_services.trigger_sync(store)
        mark = fault_stack.random.randint(1, products - 4)
        killed_at = kill_at_random_point(
            fault_stack,
            worker,
            job,
            lambda sim=sim: sim_stats(sim).get("product_write", 0),
            mark,
            user=admin_user,
            probe=trial == 0,
        )
        fault_stack.restart_after_visibility(worker, killed_at)

        job = wait_for_job(job, timeout=90)
        assert job.status == JobStatus.SUCCEEDED, (trial, mark, job.message)
        stats = sim_stats(sim)
        assert (stats.get("product_write"), stats.get("stock_write")) == (products, products), (trial, mark, stats)
        for product in Product.objects.filter(store=store):
            raw = sim_get(sim, f"products/{product.id_origin}")
            assert raw["price"] == f"{product.price:.6f}" and int(raw["quantity"]) == product.inventory
    fault_stack.assert_ready()
