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
            code=code, name=fields.pop("name", code.title()), platform="prestashop",
            platform_url=sim.url, platform_api_key=sim.api_key, **fields,
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
