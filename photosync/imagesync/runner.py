"""Image sync: pull every product's default image from the store's shop (spec 000).

A run (``ImageSyncRun``) is planned by its coordinator task: one request checks the shop,
then the shop is asked about every product with an ``id_origin`` in batches of 100 and the
products that need a download are cut into chunks (:mod:`.planning`); helper tasks are
queued so that every free worker takes chunks. The coordinator processes chunks too, then
waits for the chunks other workers hold; whoever completes the last chunk finishes the run
(:mod:`.chunks`). Tasks are sent by name: this module never imports ``photosync.tasks``.
"""

from __future__ import annotations

import logging
import time

from celery import current_app

from catalog.models import Store
from catalog.platforms import PlatformError, create_ecommerce_service
from config.jobs import (
    JobAlreadyRunning,
    JobStatus,
    JobTrigger,
    finish_job,
    run_job,
    start_and_enqueue,
    start_job,
)
from photosync.imagesync import chunks, planning
from photosync.imagesync.downloads import ShopSession
from photosync.models import ChunkStatus, ImageSyncRun

logger = logging.getLogger(__name__)

WAIT_POLL = 0.2  # seconds between looks at chunks other workers hold
COORDINATOR_TASK = "photosync.tasks.image_sync_task"
HELPER_TASK = "photosync.tasks.image_sync_chunk_task"


def _task(name: str):
    """A registered Celery task by its name (the app's task modules are imported on demand)."""
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[name]


def check_store(store: Store) -> None:
    """Raise the connector's typed error for a store without a (supported) platform."""
    create_ecommerce_service(store).close()


def start_image_sync(store: Store, *, trigger: str = JobTrigger.API, user=None, force: bool = False) -> ImageSyncRun:
    """Queue a run on Celery (``JobAlreadyRunning`` if one is active for the store)."""
    check_store(store)
    params = {"force": force, "fan_out": True}
    return start_and_enqueue(
        ImageSyncRun,
        _task(COORDINATOR_TASK),
        kind=ImageSyncRun.KIND,
        store=store,
        trigger=trigger,
        requested_by=user,
        params=params,
    )


def sync_images_now(store: Store, *, trigger: str = JobTrigger.COMMAND, user=None, force: bool = False) -> ImageSyncRun:
    """Run a whole sync in this process (management command, demo); returns the finished run."""
    check_store(store)
    params = {"force": force, "fan_out": False}
    run = start_job(
        ImageSyncRun, kind=ImageSyncRun.KIND, store=store, trigger=trigger, requested_by=user, params=params
    )
    run_job(ImageSyncRun, run.pk, run_image_sync)
    run.refresh_from_db()
    return run


def sync_active_stores(*, trigger: str = JobTrigger.SCHEDULE) -> list[ImageSyncRun]:
    """Queue a run for every active store on a platform (the nightly schedule)."""
    runs = []
    for store in Store.objects.filter(is_active=True).exclude(platform__in=["", "none"]).order_by("pk"):
        try:
            runs.append(start_image_sync(store, trigger=trigger))
        except JobAlreadyRunning:
            logger.info("store %s already has an image sync running", store.pk)
        except PlatformError as exc:
            logger.warning("store %s cannot be synced: %s", store.pk, exc)
    return runs


# The coordinator and the helpers


def run_image_sync(run: ImageSyncRun) -> None:
    """Work function of the coordinator task (under ``run_job``): plan, take part, wait."""
    resuming = run.planned or run.chunks.exists()
    if not resuming:
        try:
            with create_ecommerce_service(run.store) as service:
                service.check_connection()
        except PlatformError as exc:
            # Nothing was read or written yet: the run fails as a whole, with the shop's error.
            error = {"code": exc.code, "http_status": exc.http_status, "message": str(exc)}
            finish_job(run, status=JobStatus.FAILED, message=str(exc), result={"error": error})
            return
    with ShopSession(run.store) as session:
        if not run.planned:
            planning.plan_run(session, run, on_chunks=lambda count: _queue_helpers(run, count))
        else:  # a redelivered coordinator: the chunks of a worker that died are still to do
            _queue_helpers(run, run.chunks.exclude(status=ChunkStatus.DONE).count())
        take_part(session, run, wait=True)
    run.refresh_from_db()
    logger.info("image sync %s of store %s %s: %s", run.pk, run.store_id, run.status, run.counters)


def _queue_helpers(run: ImageSyncRun, count: int) -> None:
    """Ask other workers to take chunks (pointless when tasks run in this process)."""
    if count <= 0 or not run.params.get("fan_out") or current_app.conf.task_always_eager:
        return
    helper = _task(HELPER_TASK)
    for _ in range(count):
        helper.delay(str(run.pk))


def take_part(session: ShopSession, run: ImageSyncRun, *, wait: bool) -> None:
    """Process chunks until none is left to claim; with ``wait``, until the run is finished."""
    while chunks.run_is_active(run):
        chunk = chunks.claim_chunk(run)
        if chunk is not None:
            chunks.process_chunk(session, run, chunk)
            continue
        if not wait or chunks.finish_if_complete(run):
            return
        time.sleep(WAIT_POLL)


def help_with_run(run_id) -> None:
    """Work of a helper task: take chunks of an active run, if any are left."""
    run = ImageSyncRun.objects.filter(pk=run_id).select_related("store").first()
    if run is not None and run.is_active:
        with ShopSession(run.store) as session:
            take_part(session, run, wait=False)
