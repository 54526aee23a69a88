"""A chunk's work: download what the plan found changed (a product per pool task), and
write the outcomes to the photos. Claiming, leases and completing a chunk once are the
runner's (:mod:`config.jobs.chunked`); the run's counters move only through it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future

from django.db import transaction

from catalog.models import Product
from config.error_codes import ErrorCode
from photosync.error_codes import PhotoErrorCode
from photosync.imagesync import downloads, storage
from photosync.imagesync.downloads import FAILED, SKIPPED, Outcome, ProductWork, ShopSession
from photosync.imagesync.photos import apply_outcomes, held_photos
from photosync.imagesync.planning import remote_from_item
from photosync.models import ImageSyncChunk, ImageSyncRun

logger = logging.getLogger(__name__)

Completed = Callable[[Iterable[Future], ImageSyncChunk], Iterator[Future]]


def sync_products(
    session: ShopSession, run: ImageSyncRun, chunk: ImageSyncChunk, completed: Completed
) -> list[Outcome]:
    """Download what the plan found changed, a product per pool task; ``completed`` yields the
    futures as they finish (renewing the chunk's lease meanwhile)."""
    items = {item["product"]: item for item in chunk.items}
    products = {
        p["pk"]: p
        for p in Product.objects.filter(pk__in=list(items), store_id=run.store_id).values(
            "pk", "uuid", "id_origin", "name", "sku"
        )
    }
    existing = held_photos(products)
    outcomes = [Outcome(pk, SKIPPED) for pk in items if pk not in products]  # deleted since the plan
    works = {}
    for pk, product in products.items():
        remote = remote_from_item(items[pk])
        work = ProductWork(pk, product["uuid"], remote.id, product["name"], product["sku"], remote, existing.get(pk))
        works[session.pool.submit(downloads.sync_product, session, work)] = work
    for future in completed(works, chunk):
        try:
            outcomes.append(future.result())
        except Exception as exc:  # a bug or a storage outage fails this product, not the run
            work = works[future]
            logger.exception("syncing the image of product %s failed", work.product_id)
            message = f"{type(exc).__name__}: {exc}"
            outcomes.append(downloads.failure(work.product_id, work.id_origin, ErrorCode.INTERNAL_ERROR, message))
    return outcomes


def abandoned(chunk: ImageSyncChunk, message: str) -> list[Outcome]:
    """Every product of a chunk that kept killing its workers fails with CHUNK_ABANDONED."""
    return [
        downloads.failure(item["product"], item["id_origin"], PhotoErrorCode.CHUNK_ABANDONED, message)
        for item in chunk.items
    ]


def progress_of(outcomes: list[Outcome]) -> dict:
    """The run's progress for these outcomes (keyword arguments of the runner's ``progress``)."""
    counts = downloads.tally(outcomes)
    return {
        "processed": len(outcomes),
        "succeeded": len(outcomes) - counts["failed"],
        "failed": counts["failed"],
        "counters": dict(counts),
        "errors": [o.error for o in outcomes if o.kind == FAILED and o.error],
    }


def write_outcomes(run: ImageSyncRun, outcomes: list[Outcome]) -> None:
    """Write the photos (inside the chunk's transaction); replaced objects go once it commits."""
    stale_keys = apply_outcomes(run.store_id, outcomes)
    if stale_keys:
        transaction.on_commit(lambda keys=stale_keys: storage.delete_objects(keys))
