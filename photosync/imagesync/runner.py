"""Image sync: pull every product's default image from the store's shop.

A run (``ImageSyncRun``) is a chunked job (:class:`config.jobs.chunked.ChunkedRunner`):
its coordinator task checks the shop with one request, then asks the shop about every
product with an ``id_origin`` in batches of 100 and cuts the products that need a download
into chunks (:mod:`.planning`); helper tasks are queued so that every free worker takes
chunks (:mod:`.chunks`); whoever completes the last chunk finishes the run with its summary
(:mod:`.reporting`). Tasks are sent by name: nothing here imports ``photosync.tasks``.
"""

from __future__ import annotations

import logging

from django.conf import settings

from catalog.models import Store
from catalog.platforms import PlatformError, create_ecommerce_service
from config.jobs import BrokerUnavailable, JobAlreadyRunning, JobStatus, JobTrigger
from config.jobs.chunked import ChunkedRunner
from photosync.imagesync import chunks, planning, reporting
from photosync.imagesync.downloads import ShopSession, tally
from photosync.models import ImageSyncChunk, ImageSyncRun

logger = logging.getLogger(__name__)


class ImageSyncRunner(ChunkedRunner):
    model = ImageSyncRun
    kind = ImageSyncRun.KIND
    task_name = "photosync.tasks.image_sync_task"
    helper_task_name = "photosync.tasks.image_sync_chunk_task"
    chunk_model = ImageSyncChunk
    job_field = "run"

    def lease_seconds(self) -> float:
        return settings.IMAGE_SYNC_CHUNK_LEASE

    def open_session(self) -> ShopSession:
        return ShopSession(self.job.store)

    # Planning

    def before_plan(self) -> bool:
        try:
            with create_ecommerce_service(self.job.store) as service:
                service.check_connection()
        except PlatformError as exc:
            # Nothing was read or written yet: the run fails as a whole, with the shop's error.
            error = {"code": exc.code, "http_status": exc.http_status, "message": str(exc)}
            self.finish(status=JobStatus.FAILED, message=str(exc), result={"error": error}, error_code=exc.code)
            return False
        return True

    def plan_started(self) -> None:
        self.progress(total=planning.products_total(self.job))

    def next_page(self, after):
        products = planning.products_page(self.job, after)
        return products, products[-1]["pk"] if products else after

    def item_key(self, item: dict) -> int:
        return item["product"]

    def plan_page(self, page: int, things: list) -> None:
        settled, needed = planning.settle(self.session, self.job, things)
        self.add_page(
            page,
            settled=[{"product": o.product_id} for o in settled],
            settled_counters=dict(tally(settled)),
            chunk_items=needed,
            chunk_size=settings.IMAGE_SYNC_CHUNK_SIZE,
            **chunks.progress_of(settled),
        )

    # Chunks

    def process_chunk(self, chunk: ImageSyncChunk):
        return chunks.sync_products(self.session, self.job, chunk, self.completed)

    def abandoned(self, chunk: ImageSyncChunk, message: str):
        return chunks.abandoned(chunk, message)

    def chunk_counters(self, outcome) -> dict:
        return dict(tally(outcome))

    def record_chunk(self, chunk: ImageSyncChunk, outcome) -> None:
        chunks.write_outcomes(self.job, outcome)
        self.progress(**chunks.progress_of(outcome))

    # Finishing

    def completion_message(self, job: ImageSyncRun) -> str:
        return reporting.completion_message(job)

    def summary(self, job: ImageSyncRun) -> dict:
        return reporting.run_summary(job)

    def run(self) -> None:
        super().run()
        run = self.job
        logger.info("image sync %s of store %s %s: %s", run.pk, run.store_id, run.status, run.counters)


def check_store(store: Store) -> None:
    """Raise the connector's typed error for a store without a (supported) platform."""
    create_ecommerce_service(store).close()


def start_image_sync(store: Store, *, trigger: str = JobTrigger.API, user=None, force: bool = False) -> ImageSyncRun:
    """Queue a run on Celery (``JobAlreadyRunning`` if one is active for the store)."""
    check_store(store)
    params = {"force": force, "fan_out": True}
    return ImageSyncRunner.start(store=store, trigger=trigger, requested_by=user, params=params)


def sync_images_now(store: Store, *, trigger: str = JobTrigger.COMMAND, user=None, force: bool = False) -> ImageSyncRun:
    """Run a whole sync in this process (management command, demo); returns the finished run."""
    check_store(store)
    params = {"force": force, "fan_out": False}
    run = ImageSyncRunner.create(store=store, trigger=trigger, requested_by=user, params=params)
    ImageSyncRunner.execute(run.pk)
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
        except BrokerUnavailable:
            logger.warning("store %s: the job queue is unavailable, its image sync was not started", store.pk)
    return runs
