"""Getting one product's image from its shop into storage (runs in a pool thread).

For each product the shop lists, in order: its default image, then its other images
(when the default one is missing in the shop), then a placeholder drawn from its name.
Bytes are streamed into a spooled temporary file with a size cap while MD5 and SHA-1
are computed, checked with Pillow, compared with the photo we hold, and only new bytes
are written to storage, with their renditions. No database access happens here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.conf import settings
from django.utils.text import slugify
from PIL import Image

from catalog.platforms import EcommerceService, PlatformError, PlatformNotFound, RemoteProduct, create_ecommerce_service
from photosync.imagesync import images, storage
from photosync.models import PhotoSource, ProductPhoto

logger = logging.getLogger(__name__)

SPOOL_IN_MEMORY = 1024 * 1024  # larger downloads spill to a temporary file
PROCESSING_THREADS = 2  # threads beyond the shop's slots, checking and storing downloaded images

DOWNLOADED, FALLBACK, UNCHANGED, FAILED, SKIPPED = "downloaded", "fallback", "unchanged", "failed", "skipped"


@dataclass(frozen=True)
class ProductWork:
    """What a pool thread needs about one product (plain values, no queries)."""

    product_id: int
    product_uuid: Any
    id_origin: int
    name: str
    sku: str
    remote: RemoteProduct
    existing: ProductPhoto | None


@dataclass
class StoredImage:
    object_key: str
    filename: str
    size: int
    content_type: str
    checksum: str
    width: int
    height: int
    renditions: dict[str, dict]


@dataclass
class Outcome:
    """What happened to one product; the chunk writes it to the database."""

    product_id: int
    kind: str
    source: str = PhotoSource.PLATFORM
    shop_image_id: int | None = None
    stored: StoredImage | None = None
    validators: dict[str, Any] = field(default_factory=dict)
    bytes_downloaded: int = 0
    error: dict[str, Any] | None = None


_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def shared_pool() -> ThreadPoolExecutor:
    """This process's image-sync threads, kept between tasks (a thread's storage client,
    boto3 on S3, is costly to build): ``IMAGE_SYNC_CONCURRENCY`` may talk to the shop while
    a few more check and store what has arrived (more would only queue for the GIL)."""
    global _pool, _pool_pid
    size = max(1, settings.IMAGE_SYNC_CONCURRENCY) + PROCESSING_THREADS
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid() or _pool._max_workers != size:
            if _pool is not None and _pool_pid == os.getpid():
                _pool.shutdown(wait=False)
            _pool, _pool_pid = ThreadPoolExecutor(max_workers=size, thread_name_prefix="image-sync"), os.getpid()
        return _pool


class ShopSession:
    """The shared pool, with one connector per pool thread for this session's store
    (connectors are not thread-safe) and ``IMAGE_SYNC_CONCURRENCY`` request slots: at most
    that many requests to the shop at once. Closing the session closes its connectors."""

    def __init__(self, store):
        self.store = store
        self.pool = shared_pool()
        self.slots = threading.BoundedSemaphore(max(1, settings.IMAGE_SYNC_CONCURRENCY))
        self._local = threading.local()
        self._connectors: list[EcommerceService] = []
        self._lock = threading.Lock()

    def connector(self) -> EcommerceService:
        service = getattr(self._local, "service", None)
        if service is None:
            service = self._local.service = create_ecommerce_service(self.store)
            with self._lock:
                self._connectors.append(service)
        return service

    def close(self) -> None:
        with self._lock:
            connectors, self._connectors = self._connectors, []
        for service in connectors:
            service.close()

    def __enter__(self) -> ShopSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


REMOTE_FIELDS = ["name", "id_default_image", "image_ids", "date_upd"]


def fetch_remote(session: ShopSession, id_origins: list[int]) -> list[RemoteProduct]:
    """One ``filter[id]`` request for up to 100 products (in a pool thread)."""
    with session.slots:
        return session.connector().fetch_products(id_origins, fields=REMOTE_FIELDS)


def is_unchanged_in_shop(work: ProductWork) -> bool:
    """True when the shop cannot have a new image for this product since our last look:
    the photo came from the same shop image id (or the same absence of images) and the
    product's ``date_upd`` has not moved. Uploads are never replaced by a sync."""
    existing, remote = work.existing, work.remote
    if existing is None:
        return False
    if existing.source == PhotoSource.UPLOAD:
        return True
    if remote.date_upd is None or existing.origin_date_upd != remote.date_upd:
        return False
    candidates = image_candidates(remote)
    if not candidates:
        return existing.source == PhotoSource.FALLBACK and existing.shop_image_id is None
    return existing.shop_image_id == candidates[0] and existing.source == PhotoSource.PLATFORM


def image_candidates(remote: RemoteProduct) -> list[int]:
    """The default image first, then the product's other images in the shop's order."""
    ordered = [remote.id_default_image, *remote.image_ids] if remote.id_default_image else list(remote.image_ids)
    return list(dict.fromkeys(image_id for image_id in ordered if image_id))


def sync_product(session: ShopSession, work: ProductWork) -> Outcome:
    """Bring one product's photo up to date with the shop (in a pool thread)."""
    remote = work.remote
    validators = {"origin_date_upd": remote.date_upd, "shop_sha1": "", "etag": "", "last_modified": ""}
    try:
        for position, image_id in enumerate(image_candidates(remote)):
            kind = DOWNLOADED if position == 0 and remote.id_default_image else FALLBACK
            try:
                return _download(session, work, image_id, kind, validators)
            except PlatformNotFound:
                logger.info("image %s of product %s is missing in the shop", image_id, work.id_origin)
        data, info, image = images.placeholder(remote.name or work.name or work.sku or f"Product {work.id_origin}")
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return _store(work, data, md5, len(data), PhotoSource.FALLBACK, None, FALLBACK, validators, (info, image))
    except PlatformError as exc:
        return _failed(work, exc.code, str(exc))
    except images.InvalidImage as exc:
        return _failed(work, exc.code, str(exc))


def _download(session: ShopSession, work: ProductWork, image_id: int, kind: str, validators: dict) -> Outcome:
    existing = work.existing
    same_image = bool(existing and existing.source == PhotoSource.PLATFORM and existing.shop_image_id == image_id)
    local_sha1 = existing.shop_sha1 if same_image and existing.shop_sha1 else None
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        writer = HashingWriter(spool)
        with session.slots:  # only the transfer holds a slot; checking and storing happen outside it
            fetch = session.connector().download_image(
                work.id_origin, image_id, writer, max_bytes=settings.IMAGE_MAX_BYTES, local_sha1=local_sha1
            )
        validators = validators | {
            "shop_sha1": fetch.sha1 or "",
            "etag": fetch.etag or "",
            "last_modified": fetch.last_modified or "",
        }
        if fetch.not_modified:
            return Outcome(work.product_id, UNCHANGED, PhotoSource.PLATFORM, image_id, validators=validators)
        if fetch.sha1 and fetch.sha1.lower() != writer.sha1.hexdigest():
            raise images.InvalidImage("The bytes received do not match the shop's Content-Sha1.")
        md5 = writer.md5.hexdigest()
        outcome = _store(work, spool, md5, writer.size, PhotoSource.PLATFORM, image_id, kind, validators)
        outcome.bytes_downloaded = writer.size
        return outcome


def _store(
    work: ProductWork,
    file: BinaryIO | bytes,
    md5: str,
    size: int,
    source: str,
    image_id: int | None,
    kind: str,
    validators: dict,
    decoded: tuple[images.ImageInfo, Image.Image] | None = None,
) -> Outcome:
    """Validate the bytes (unless we drew them) and write them with their renditions, unless
    we hold them already: bytes equal to our photo's were checked when it was stored, so
    they are not decoded again.

    Decoding and resizing hold one of the process's decode slots."""
    existing = work.existing
    if existing is not None and existing.checksum == md5:
        if decoded is not None:
            decoded[1].close()
        return Outcome(work.product_id, UNCHANGED, source, image_id, validators=validators)
    with images.decode_slot():
        info, image = decoded or images.open_image(file)
        try:
            made = images.make_renditions(image)
            key = storage.original_key(work.product_uuid, md5, info.extension)
            # Before close(): Pillow closes the file it read a PNG or a GIF from.
            storage.put_object(key, file, size, content_type=info.content_type)
        finally:
            image.close()
    renditions = {}
    for rendition in made:
        rendition_key = storage.rendition_key(work.product_uuid, md5, rendition.shared_with or rendition.name)
        if rendition.shared_with is None:
            storage.put_object(
                rendition_key, rendition.data, len(rendition.data), content_type=images.RENDITION_FORMAT[1]
            )
        renditions[rendition.name] = {
            "key": rendition_key,
            "width": rendition.width,
            "height": rendition.height,
            "size": len(rendition.data),
            "content_type": images.RENDITION_FORMAT[1],
        }
    stem = slugify(work.sku) or f"product-{work.id_origin}"
    suffix = f"-{image_id}" if image_id else "-placeholder"
    stored = StoredImage(
        key, f"{stem}{suffix}.{info.extension}", size, info.content_type, md5, info.width, info.height, renditions
    )
    return Outcome(work.product_id, kind, source, image_id, stored=stored, validators=validators)


def _failed(work: ProductWork, code: str, message: str) -> Outcome:
    return failure(work.product_id, work.id_origin, code, message)


def failure(product_id: int, id_origin: int, code: str, message: str) -> Outcome:
    error = {"product_id": product_id, "id_origin": id_origin, "code": str(code), "message": message}
    return Outcome(product_id, FAILED, error=error)


def missing_in_shop(product_id: int, id_origin: int) -> Outcome:
    return failure(product_id, id_origin, PlatformNotFound.code, f"Product {id_origin} is not in the shop.")


class HashingWriter:
    """A write-only file that hashes (MD5 and SHA-1) and counts what goes through it."""

    def __init__(self, dest: BinaryIO):
        self.dest = dest
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha1 = hashlib.sha1(usedforsecurity=False)
        self.size = 0

    def write(self, data: bytes) -> int:
        self.md5.update(data)
        self.sha1.update(data)
        self.size += len(data)
        return self.dest.write(data)


COUNTERS = ("downloaded", "fallback", "unchanged", "failed")


def tally(outcomes: list[Outcome]) -> Counter:
    """The run's counters for these outcomes (a product skipped without a request is unchanged)."""
    counts: Counter = Counter(dict.fromkeys(COUNTERS, 0))
    for outcome in outcomes:
        counts[UNCHANGED if outcome.kind == SKIPPED else outcome.kind] += 1
        counts["skipped"] += outcome.kind == SKIPPED
        counts["bytes"] += outcome.bytes_downloaded
    return counts
