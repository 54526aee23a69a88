"""Fixtures for the image sync tests: a store on a simulated shop, with its catalogue imported."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from catalog.models import Store
from catalog.services import import_products_now
from photosync.models import ProductPhoto


@pytest.fixture
def make_shop_store(db, platform_settings):
    """``make_shop_store(sim, code=...)``: a store on the simulator with its products imported."""

    def make(sim, code: str = "shop", **fields) -> Store:
        store = Store.objects.create(
            code=code,
            name=fields.pop("name", code.title()),
            platform="prestashop",
            platform_url=sim.url,
            platform_api_key=sim.api_key,
            **fields,
        )
        job = import_products_now(store)
        assert job.status == "succeeded", job.message
        return store

    return make


@pytest.fixture
def shop_store(make_shop_store, shop_simulator) -> Store:
    return make_shop_store(shop_simulator)


def stored_bytes(key: str) -> bytes:
    with default_storage.open(key, "rb") as handle:
        return handle.read()


def missing_objects(photos=None) -> list[str]:
    """Keys referenced by live photos whose object is not in storage (must always be empty)."""
    photos = ProductPhoto.objects.filter(deleted_at__isnull=True) if photos is None else photos
    return [key for photo in photos for key in photo.object_keys if not default_storage.exists(key)]


# Photos for the distribution tests, without a shop: real bytes in real storage.


def image_bytes(seed: int, size: int = 24) -> bytes:
    """A small JPEG that differs for every seed."""
    import io

    from PIL import Image

    image = Image.new("RGB", (size, size), ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    image.putpixel((seed % size, (seed // size) % size), (255 - (seed % 256), 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue() + seed.to_bytes(4, "big")  # a trailer keeps every seed's bytes distinct


@pytest.fixture
def make_photo(db):
    """``make_photo(store, seed=..., product=None, data=None)``: a product (unless given) and
    its live primary photo, with its bytes in the default storage."""
    import hashlib

    from catalog.models import Product
    from photosync.imagesync.storage import original_key, put_object

    counter = iter(range(1, 1_000_000))

    def make(store, *, seed: int | None = None, product=None, data: bytes | None = None, **fields):
        seed = next(counter) if seed is None else seed
        data = data if data is not None else image_bytes(seed)
        if product is None:
            product = Product.objects.create(store=store, sku=f"SKU{seed:05d}", name=f"Product {seed}")
        checksum = hashlib.md5(data).hexdigest()
        key = original_key(product.uuid, checksum, "jpg")
        put_object(key, data, len(data))
        return ProductPhoto.objects.create(
            store=store,
            product=product,
            object_key=key,
            filename=f"photo_{seed}.jpg",
            size=len(data),
            content_type="image/jpeg",
            checksum=checksum,
            **fields,
        )

    return make


def replace_photo_bytes(photo: ProductPhoto, data: bytes) -> ProductPhoto:
    """What the image sync does when a product's image changes: new key, version + 1."""
    import hashlib

    from django.utils import timezone

    from photosync.imagesync.storage import original_key, put_object

    checksum = hashlib.md5(data).hexdigest()
    key = original_key(photo.product.uuid, checksum, "jpg")
    put_object(key, data, len(data))
    photo.object_key, photo.checksum, photo.size = key, checksum, len(data)
    photo.version += 1
    photo.updated_at = timezone.now()
    photo.save()
    return photo
