"""A run's chunks: claimed with a lease, processed with a thread pool, completed atomically.

A worker claims a pending chunk (or one whose lease ran out: its worker died) with a
compare-and-set UPDATE, keeps renewing the lease while its downloads run, and completes
it in one transaction: the chunk row is marked done only if the claim is still its own,
the photos are written, the run's counters move (``record_progress``), and the worker
that completes the last chunk finishes the run. A chunk is therefore counted once, even
when its task is redelivered or two workers processed it.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from catalog.models import Product
from config.error_codes import ErrorCode
from config.jobs import ACTIVE_STATUSES, finish_job, outcome_status, record_progress
from photosync.error_codes import PhotoErrorCode
from photosync.imagesync import downloads, storage
from photosync.imagesync.downloads import FAILED, SKIPPED, Outcome, ProductWork, ShopSession
from photosync.imagesync.photos import apply_outcomes, live_primary_photos
from photosync.imagesync.planning import remote_from_item
from photosync.imagesync.reporting import completion_message, run_summary
from photosync.models import ChunkStatus, ImageSyncChunk, ImageSyncRun

logger = logging.getLogger(__name__)

MAX_CHUNK_ATTEMPTS = 5  # a chunk that keeps killing its workers is failed, not retried forever


class LeaseLost(Exception):
    """Another worker took the chunk over (this one was too slow to renew its lease)."""


def _lease() -> timedelta:
    return timedelta(seconds=settings.IMAGE_SYNC_CHUNK_LEASE)


def claim_chunk(run: ImageSyncRun) -> ImageSyncChunk | None:
    """Take a pending chunk, or one whose lease expired; None when there is none."""
    now = timezone.now()
    claimable = Q(status=ChunkStatus.PENDING) | Q(status=ChunkStatus.RUNNING, lease_until__lt=now)
    for chunk in ImageSyncChunk.objects.filter(run=run).filter(claimable).order_by("index")[:10]:
        token = uuid.uuid4()
        claimed = (
            ImageSyncChunk.objects.filter(pk=chunk.pk)
            .filter(claimable)
            .update(
                status=ChunkStatus.RUNNING,
                token=token,
                lease_until=now + _lease(),
                attempts=F("attempts") + 1,
                claimed_by=f"{socket.gethostname()}:{os.getpid()}",
            )
        )
        if claimed:
            chunk.refresh_from_db()
            return chunk
    return None


def renew_lease(chunk: ImageSyncChunk) -> None:
    renewed = ImageSyncChunk.objects.filter(pk=chunk.pk, token=chunk.token, status=ChunkStatus.RUNNING).update(
        lease_until=timezone.now() + _lease()
    )
    if not renewed:
        raise LeaseLost(f"chunk {chunk.index} of run {chunk.run_id} was taken over")


def process_chunk(session: ShopSession, run: ImageSyncRun, chunk: ImageSyncChunk) -> None:
    """Sync the chunk's products and complete it (or give it up if the lease is lost)."""
    if chunk.attempts > MAX_CHUNK_ATTEMPTS:
        message = f"Gave up after {MAX_CHUNK_ATTEMPTS} attempts: the worker processing it kept dying."
        outcomes = [
            downloads.failure(i["product"], i["id_origin"], PhotoErrorCode.CHUNK_ABANDONED, message)
            for i in chunk.items
        ]
    else:
        try:
            outcomes = sync_products(session, run, chunk)
        except LeaseLost:
            logger.warning("gave up chunk %s of run %s: another worker took it over", chunk.index, run.pk)
            return
    complete_chunk(run, chunk, outcomes)


def sync_products(session: ShopSession, run: ImageSyncRun, chunk: ImageSyncChunk) -> list[Outcome]:
    """Download what the plan found changed, a product per pool task."""
    items = {item["product"]: item for item in chunk.items}
    products = {
        p["pk"]: p
        for p in Product.objects.filter(pk__in=list(items), store_id=run.store_id).values(
            "pk", "uuid", "id_origin", "name", "sku"
        )
    }
    existing = live_primary_photos(products)
    outcomes = [Outcome(pk, SKIPPED) for pk in items if pk not in products]  # deleted since the plan
    works = {}
    for pk, product in products.items():
        remote = remote_from_item(items[pk])
        work = ProductWork(pk, product["uuid"], remote.id, product["name"], product["sku"], remote, existing.get(pk))
        works[session.pool.submit(downloads.sync_product, session, work)] = work
    for future in _as_completed_with_lease(works, chunk):
        try:
            outcomes.append(future.result())
        except Exception as exc:  # a bug or a storage outage fails this product, not the run
            work = works[future]
            logger.exception("syncing the image of product %s failed", work.product_id)
            message = f"{type(exc).__name__}: {exc}"
            outcomes.append(downloads.failure(work.product_id, work.id_origin, ErrorCode.INTERNAL_ERROR, message))
    return outcomes


def _as_completed_with_lease(futures: dict[Future, object], chunk: ImageSyncChunk) -> Iterator[Future]:
    """Futures as they complete, renewing the chunk's lease meanwhile."""
    done: queue.SimpleQueue[Future] = queue.SimpleQueue()
    for future in futures:
        future.add_done_callback(done.put)
    interval = max(0.5, settings.IMAGE_SYNC_CHUNK_LEASE / 4)
    renewed = time.monotonic()
    remaining = len(futures)
    try:
        while remaining:
            try:
                future = done.get(timeout=interval)
            except queue.Empty:
                future = None
            if future is not None:
                remaining -= 1
                yield future
            if time.monotonic() - renewed >= interval:
                renew_lease(chunk)
                renewed = time.monotonic()
    finally:
        for future in futures:
            future.cancel()


def complete_chunk(run: ImageSyncRun, chunk: ImageSyncChunk, outcomes: list[Outcome]) -> bool:
    """Write the outcomes and count the chunk, once; False if another worker owns it now."""
    counts = downloads.tally(outcomes)
    errors = [o.error for o in outcomes if o.kind == FAILED and o.error]
    for attempt in range(3):
        try:
            with transaction.atomic():
                done = ImageSyncChunk.objects.filter(pk=chunk.pk, token=chunk.token, status=ChunkStatus.RUNNING).update(
                    status=ChunkStatus.DONE, finished_at=timezone.now(), counters=dict(counts)
                )
                if not done:
                    return False
                stale_keys = apply_outcomes(run.store_id, outcomes)
                record_progress(
                    run,
                    processed=len(outcomes),
                    succeeded=len(outcomes) - counts["failed"],
                    failed=counts["failed"],
                    counters=dict(counts),
                    errors=errors,
                )
                finish_if_complete(run)
                if stale_keys:
                    transaction.on_commit(lambda keys=stale_keys: storage.delete_objects(keys))
            return True
        except IntegrityError:  # a primary photo inserted concurrently (an upload): compare again
            if attempt == 2:
                raise
    return False


def finish_if_complete(run: ImageSyncRun) -> bool:
    """Finish the run once every chunk is done; True when the run is no longer active.

    The run row is locked before the chunks are counted, so of two workers completing the
    last two chunks at once, the second one sees both done and finishes the run.
    """
    with transaction.atomic():
        row = ImageSyncRun.objects.select_for_update().get(pk=run.pk)
        if not row.is_active:
            return True
        if not row.planned or ImageSyncChunk.objects.filter(run=run).exclude(status=ChunkStatus.DONE).exists():
            return False
        finish_job(run, status=outcome_status(row), message=completion_message(row), result=run_summary(row))
    return True


def run_is_active(run: ImageSyncRun) -> bool:
    return ImageSyncRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).exists()
