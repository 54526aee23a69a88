"""Planning a run: what the shop says about a page of products, and which of them need a download.

For each page of the store's products with an ``id_origin`` (by primary key), the shop is
asked about them with ``filter[id]`` in batches of 100, several batches at once. Products
whose photo is current (the same shop image and the same ``date_upd`` as at our last
download), uploads, products gone from the shop and products whose batch failed are
settled at once; the others go into chunks that carry what the shop said, for the workers.
Pages, chunks and resuming are the runner's (:mod:`config.jobs.chunked`).
"""

from __future__ import annotations

from concurrent.futures import as_completed
from datetime import datetime

from catalog.models import Product
from catalog.platforms import PlatformError, RemoteProduct
from config.jobs.chunked import STRIDE
from photosync.imagesync import downloads
from photosync.imagesync.downloads import SKIPPED, Outcome, ProductWork, ShopSession
from photosync.imagesync.photos import held_photos
from photosync.models import ImageSyncRun, PhotoSource

PLAN_PAGE = 1000  # products per planning transaction
SHOP_BATCH = 100  # ids per filter[id] request, as PrestaShop allows

__all__ = ["PLAN_PAGE", "SHOP_BATCH", "STRIDE", "products_page", "remote_from_item", "remote_item", "settle"]


def products_page(run: ImageSyncRun, after_pk: int | None) -> list[dict]:
    """The next page of the store's products with an ``id_origin``, by primary key."""
    return list(
        Product.objects.filter(store_id=run.store_id, id_origin__isnull=False, pk__gt=after_pk or 0)
        .order_by("pk")
        .values("pk", "uuid", "id_origin", "name", "sku")[:PLAN_PAGE]
    )


def products_total(run: ImageSyncRun) -> int:
    return Product.objects.filter(store_id=run.store_id, id_origin__isnull=False).count()


def settle(session: ShopSession, run: ImageSyncRun, products: list[dict]) -> tuple[list[Outcome], list[dict]]:
    """The page's products settled without a download, and the chunk items of the others."""
    remotes, failures = _fetch(session, products)
    existing = held_photos(p["pk"] for p in products)
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
    return settled, needed


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
