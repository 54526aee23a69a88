"""Outages of the hub's services in the middle of a job: the broker (a private Redis stopped
and started again) and the database (the worker's connections terminated by PostgreSQL).
The job finishes once the service is back; the web side reports the outage on /readyz
and keeps answering the API meanwhile."""

from __future__ import annotations

import time

import pytest
from django.db.models import F
from django.db.models.functions import Now

from catalog.models import Product
from config.jobs import JobStatus, wait_for_job
from nasync import services as nas_services
from nasync.models import Document, NasSyncRun
from photosync.models import ImageSyncRun
from storesync import services as store_services
from storesync.models import StoreSyncJob
from tests.nasync.conftest import pdf_bytes, uploaded
from tests.plugins.faults import in_process, wait_until
from tests.plugins.simulator import sim_post, sim_stats
from tests.storesync.conftest import configure

pytestmark = pytest.mark.worker


def shop_with_changes(make_shop_simulator, make_store, code: str, products: int):
    """A store synced once in-process, whose products then all changed on the hub's side."""
    sim = make_shop_simulator(products=products, customers=0, orders=0)
    store = make_store(code, platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key)
    configure(store, products={})
    with in_process():
        assert store_services.run_sync_now(store, sync_type="full").status == "succeeded"
    Product.objects.filter(store=store).update(price=F("price") + 1, updated_at=Now())
    sim_post(sim, "reset_stats")
    return sim, store


def test_a_job_finishes_after_redis_stops_and_starts_again(
    fault_stack, make_shop_simulator, make_store, admin_user, settings
):
    settings.STORESYNC_RETRY_BACKOFF = settings.STORESYNC_JOB_RETRY_BACKOFF = 0.01
    # A production-like visibility timeout: no message comes back while its job still runs.
    fault_stack.worker(
        concurrency=1,
        CELERY_VISIBILITY_TIMEOUT="600",
        STORESYNC_WRITE_CONCURRENCY="1",
        STORESYNC_BATCH_SIZE="4",
        STORESYNC_PAGE_SIZE="4",
    )
    sim, store = shop_with_changes(make_shop_simulator, make_store, "redis-out", products=12)
    sim_post(sim, "config", {"latency_ms": 60})

    job = store_services.trigger_sync(store)
    wait_until(lambda: sim_stats(sim).get("product_write", 0) >= 2, timeout=60, what="the first writes")
    fault_stack.redis.stop()
    down = fault_stack.assert_degraded(admin_user, "broker")
    assert fault_stack.redis.url not in str(down) and str(fault_stack.redis.port) not in str(down)
    time.sleep(2)
    fault_stack.redis.start()

    job = wait_for_job(job, timeout=90)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert sim_stats(sim)["product_write"] == 12  # each record written once
    fault_stack.assert_ready()  # the worker is back on the broker: it answers the ping again

    # The worker consumes again: a job queued after the outage runs too.
    Product.objects.filter(store=store).update(price=F("price") + 1, updated_at=Now())
    after = wait_for_job(store_services.trigger_sync(store), timeout=90)
    assert after.status == JobStatus.SUCCEEDED, after.message
    assert sim_stats(sim)["product_write"] == 24


def test_a_job_retries_and_finishes_when_its_database_connection_is_terminated(fault_stack, nas, admin_user):
    fault_stack.worker(concurrency=1, **{**nas.env, "NAS_RSYNC_BATCH_SIZE": "2", "NAS_BWLIMIT": "150"})
    documents = [
        nas_services.document_create(uploaded=uploaded(f"db-{i}.pdf", pdf_bytes(30_000, f"db:{i}"))) for i in range(8)
    ]
    run = nas_services.start_nas_sync()
    wait_until(lambda: NasSyncRun.objects.get(pk=run.pk).items_processed >= 2, timeout=60, what="progress")
    assert fault_stack.terminate_worker_connections() >= 1
    assert fault_stack.web.get("/api/v1/stores/", admin_user).status_code == 200  # the web side is unharmed
    assert fault_stack.web.readyz().status_code == 200  # the database itself stayed up

    run = wait_for_job(run, timeout=90)
    assert run.status == JobStatus.SUCCEEDED, (run.message, run.errors[:3])
    assert run.items_succeeded >= 8 - 2 or run.items_processed >= 8
    assert Document.objects.filter(synced_to_nas=True).count() == 8
    assert set(nas.files()) == {document.relative_path for document in documents}


def test_a_job_whose_message_cannot_be_sent_fails_at_once_and_leaves_its_store_free(
    fault_stack, make_shop_simulator, make_store, admin_user
):
    sim = make_shop_simulator(products=2, customers=0, orders=0)
    store = make_store("blip", platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key)
    configure(store, products={})
    # Two kinds of job: a plain runner (image sync) and a runner with a per-store line (store sync).
    triggers = {
        ImageSyncRun: f"/api/v1/sync/sync-images?id_store={store.pk}&async=true",
        StoreSyncJob: f"/api/v1/stores/{store.pk}/sync/trigger",
    }

    fault_stack.redis.stop()
    for model, path in triggers.items():
        refused = fault_stack.web.post(path, admin_user, json={})
        assert refused.status_code == 503, refused.text
        body = refused.json()
        assert body["status"] == "error" and body["code"] == "BROKER_UNAVAILABLE", body
        assert fault_stack.redis.url not in refused.text and str(fault_stack.redis.port) not in refused.text
        job = model.objects.get(store=store)
        assert (job.status, job.error_code) == (JobStatus.FAILED, "BROKER_UNAVAILABLE")
        assert body["detail"] == {"job_id": str(job.pk), "status": "failed"}
    down = fault_stack.assert_degraded(admin_user, "broker")
    assert down["components"]["database"]["status"] == "ok"

    fault_stack.redis.start()
    for model, path in triggers.items():
        queued = fault_stack.web.post(path, admin_user, json={})
        assert queued.status_code == 202, queued.text  # not 409 SYNC_IN_PROGRESS for good
        assert model.objects.filter(store=store, status=JobStatus.QUEUED).count() == 1
