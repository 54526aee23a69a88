"""Image syncs on real Celery workers: chunks shared between processes, one run per store,
and a worker SIGKILLed in the middle of a run (on S3 storage, moto's server)."""

import time
import uuid

import pytest

from config.celery import app as celery_app
from config.jobs import wait_for_job
from photosync.imagesync.planning import STRIDE
from photosync.imagesync.runner import start_image_sync
from photosync.models import ChunkStatus, ImageSyncChunk, ImageSyncRun, ProductPhoto
from tests.plugins.services import require_postgres, require_redis
from tests.plugins.worker import WorkerProcess, worker_env

pytestmark = pytest.mark.worker

URL = "/api/v1/sync/sync-images"


def wait_until(condition, timeout: float = 60, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(poll)


def test_a_run_is_shared_by_the_workers_and_a_second_request_gets_409(
    hub_worker, make_shop_simulator, make_shop_store, api, admin_user
):
    sim = make_shop_simulator(products=450, latency_ms=30)
    store = make_shop_store(sim)
    client = api(admin_user)

    queued = client.post(f"{URL}?id_store={store.pk}&async=true")
    assert queued.status_code == 202
    conflict = client.post(f"{URL}?id_store={store.pk}")
    assert conflict.status_code == 409 and conflict.json()["code"] == "SYNC_IN_PROGRESS"
    assert conflict.json()["detail"]["job_id"] == queued.json()["run_id"]

    run = wait_for_job(ImageSyncRun.objects.get(pk=queued.json()["run_id"]), timeout=90)
    assert run.status == "succeeded", (run.message, run.errors[:3])
    assert run.items_processed == 450 and ProductPhoto.objects.filter(store=store).count() == 450
    chunks = [c for c in ImageSyncChunk.objects.filter(run=run) if c.index % STRIDE]  # not the settled part
    assert len(chunks) == 3 and all(c.status == ChunkStatus.DONE and c.attempts == 1 for c in chunks)
    assert len({c.claimed_by for c in chunks}) == 2  # both worker processes took chunks
    finished = client.get(queued.json()["url"]).json()
    assert (finished["status"], finished["progress"], finished["products_processed"]) == ("succeeded", 100.0, 450)


@pytest.fixture
def crashing_worker(transactional_db, make_s3_bucket):
    """A worker of its own on S3 storage, whose lost messages Redis hands out again after 5 s."""
    require_postgres()
    require_redis()
    bucket = make_s3_bucket()
    queue = f"test-images-{uuid.uuid4().hex[:8]}"
    env = worker_env(
        queue, CELERY_VISIBILITY_TIMEOUT="5", IMAGE_SYNC_CHUNK_SIZE="20", IMAGE_SYNC_CHUNK_LEASE="4", **bucket.env
    )
    worker = WorkerProcess(queue, env)
    previous = celery_app.conf.task_default_queue, celery_app.conf.task_always_eager
    celery_app.conf.task_default_queue, celery_app.conf.task_always_eager = queue, False
    worker.start()
    yield worker, bucket
    worker.stop()
    celery_app.conf.task_default_queue, celery_app.conf.task_always_eager = previous


def test_a_run_survives_a_worker_killed_in_the_middle(crashing_worker, make_shop_simulator, make_shop_store):
    worker, bucket = crashing_worker
    sim = make_shop_simulator(products=120, latency_ms=40)
    store = make_shop_store(sim)

    run = start_image_sync(store)
    wait_until(lambda: ImageSyncRun.objects.get(pk=run.pk).items_processed >= 40)
    worker.kill()  # SIGKILL to the main process and its pool, in the middle of chunks
    killed = time.monotonic()
    run.refresh_from_db()
    assert run.is_active and run.items_processed < 120
    time.sleep(max(0.0, killed + 6 - time.monotonic()))  # past the visibility timeout
    worker.start()

    run = wait_for_job(run, timeout=90)

    assert run.status == "succeeded", (run.message, run.errors[:3])
    assert run.attempts >= 2  # the coordinator was delivered again and resumed
    assert run.items_processed == 120 and run.counters["downloaded"] + run.counters["fallback"] == 120
    chunks = list(ImageSyncChunk.objects.filter(run=run))
    assert all(c.status == ChunkStatus.DONE for c in chunks)
    assert max(c.attempts for c in chunks) >= 2  # a chunk the dead worker held was taken over
    photos = list(ProductPhoto.objects.filter(store=store))
    assert len(photos) == len({p.product_id for p in photos}) == 120  # no duplicated photo
    referenced = {key for photo in photos for key in photo.object_keys}
    assert referenced <= set(bucket.keys())  # no photo refers to an object that is not in the bucket
