"""Planning a run: one pass over the shop, a page of products at a time.

For each page of the store's products with an ``id_origin`` (by primary key), the shop is
asked about them with ``filter[id]`` in batches of 100, several batches at once. Products
whose photo is current (the same shop image and the same ``date_upd`` as at our last
download), uploads, products gone from the shop and products whose batch failed are
settled at once; the others go into chunks that carry what the shop said, for the workers.

Each page is one transaction: its chunks, and its settled products counted in a chunk
that is done at once (position 0 of the page). A redelivered coordinator therefore
resumes after the last planned page, and nothing is counted twice.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import as_completed
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import Product
from catalog.platforms import PlatformError, RemoteProduct
from config.jobs import record_progress
from photosync.imagesync import downloads
from photosync.imagesync.downloads import SKIPPED, Outcome, ProductWork, ShopSession
from photosync.imagesync.photos import live_primary_photos
from photosync.models import ChunkStatus, ImageSyncChunk, ImageSyncRun, PhotoSource

PLAN_PAGE = 1000  # products per planning transaction
STRIDE = 10_000  # chunk index = page * STRIDE + position
SHOP_BATCH = 100  # ids per filter[id] request, as PrestaShop allows


def plan_run(session: ShopSession, run: ImageSyncRun, on_chunks: Callable[[int], None]) -> None:
    """Settle or chunk every product, page by page; ``on_chunks(n)`` after each page commits."""
    page, last_pk = _planned_until(run)
    if page == 0:
        total = Product.objects.filter(store_id=run.store_id, id_origin__isnull=False).count()
        record_progress(run, total=total)
    while True:
        products = list(
            Product.objects.filter(store_id=run.store_id, id_origin__isnull=False, pk__gt=last_pk)
            .order_by("pk")
            .values("pk", "uuid", "id_origin", "name", "sku")[:PLAN_PAGE]
        )
        if not products:
            break
        _plan_page(session, run, page, products, on_chunks)
        page, last_pk = page + 1, products[-1]["pk"]
    ImageSyncRun.objects.filter(pk=run.pk).update(planned=True)
    run.planned = True


def _planned_until(run: ImageSyncRun) -> tuple[int, int]:
    """(next page, last product pk planned) from the chunks already committed."""
    chunks = list(run.chunks.values_list("index", "items"))
    if not chunks:
        return 0, 0
    last_page = max(index // STRIDE for index, _ in chunks)
    last_pk = max(item["product"] for index, items in chunks if index // STRIDE == last_page for item in items)
    return last_page + 1, last_pk


def _plan_page(
    session: ShopSession, run: ImageSyncRun, page: int, products: list[dict], on_chunks: Callable[[int], None]
) -> None:
    remotes, failures = _fetch(session, products)
    existing = live_primary_photos(p["pk"] for p in products)
    force = bool(run.params.get("force"))
    settled: list[Outcome] = []
    needed: list[dict] = []
    for product in products:
        pk, origin = product["pk"], product["id_origin"]
        remote, photo = remotes.get(origin), existing.get(pk)
        if origin in failures:
            settled.append(downloads.failure(pk, origin, *failures[origin]))
        elif remote is None:
            settled.append(downloads.missing_in_shop(pk, origin))
        elif (
            photo is not None
            and photo.source == PhotoSource.UPLOAD
            or (not force and downloads.is_unchanged_in_shop(_work(product, remote, photo)))
        ):
            settled.append(Outcome(pk, SKIPPED))
        else:
            needed.append(remote_item(pk, remote))
    size = max(1, settings.IMAGE_SYNC_CHUNK_SIZE)
    counts = downloads.tally(settled)
    with transaction.atomic():
        chunks = [
            ImageSyncChunk(
                run=run,
                index=page * STRIDE,
                status=ChunkStatus.DONE,
                finished_at=timezone.now(),
                items=[{"product": o.product_id} for o in settled],
                counters=dict(counts),
            ),
            *(
                ImageSyncChunk(run=run, index=page * STRIDE + 1 + n, items=needed[start : start + size])
                for n, start in enumerate(range(0, len(needed), size))
            ),
        ]
        ImageSyncChunk.objects.bulk_create(chunks)
        record_progress(
            run,
            processed=len(settled),
            succeeded=len(settled) - counts["failed"],
            failed=counts["failed"],
            counters=dict(counts),
            errors=[o.error for o in settled if o.error],
        )
        transaction.on_commit(lambda count=len(chunks) - 1: on_chunks(count))


def _fetch(session: ShopSession, products: list[dict]) -> tuple[dict[int, RemoteProduct], dict[int, tuple]]:
    """The shop's view of these products, batches of 100 at once; and (code, message) per
    product whose batch failed after the connector's retries."""
    origins = sorted(p["id_origin"] for p in products)
    batches = {
        session.pool.submit(downloads.fetch_remote, session, origins[i : i + SHOP_BATCH]): origins[i : i + SHOP_BATCH]
        for i in range(0, len(origins), SHOP_BATCH)
    }
    remotes: dict[int, RemoteProduct] = {}
    failures: dict[int, tuple] = {}
    for future in as_completed(batches):
        try:
            remotes.update({remote.id: remote for remote in future.result()})
        except PlatformError as exc:
            failures.update(dict.fromkeys(batches[future], (exc.code, str(exc))))
    return remotes, failures


def _work(product: dict, remote: RemoteProduct, photo) -> ProductWork:
    return ProductWork(
        product["pk"], product["uuid"], product["id_origin"], product["name"], product["sku"], remote, photo
    )


def remote_item(product_pk: int, remote: RemoteProduct) -> dict:
    """What a chunk keeps about a product: the shop's answer, as JSON."""
    return {
        "product": product_pk,
        "id_origin": remote.id,
        "name": remote.name,
        "id_default_image": remote.id_default_image,
        "image_ids": list(remote.image_ids),
        "date_upd": remote.date_upd.isoformat() if remote.date_upd else None,
    }


def remote_from_item(item: dict) -> RemoteProduct:
    date_upd = datetime.fromisoformat(item["date_upd"]) if item.get("date_upd") else None
    return RemoteProduct(
        id=item["id_origin"],
        name=item.get("name", ""),
        id_default_image=item.get("id_default_image"),
        image_ids=tuple(item.get("image_ids") or ()),
        date_upd=date_upd,
    )
