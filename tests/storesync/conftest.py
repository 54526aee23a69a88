"""Fixtures for store sync: a shop on the simulator (over HTTP) and a store connected to it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Product
from storesync import services


@pytest.fixture(autouse=True)
def _quick_retries(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # users are made per test
    settings.STORESYNC_RETRY_BACKOFF = 0.01
    settings.STORESYNC_JOB_RETRY_BACKOFF = 0.01
    settings.PLATFORM_RETRY_BACKOFF = 0.01


@pytest.fixture
def sim(make_shop_simulator):
    return make_shop_simulator(products=8, customers=4, orders=4)


@pytest.fixture
def shop_store(db, sim, make_store):
    return make_store("shop", platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key)


def configure(store, *, products=None, customers=None, orders=None, frequency="manual", **extra):
    """Configure entities given as dicts (``{}`` for the defaults); None leaves one out.

    The mass-change brake is off (``max_changes_percent`` 100) unless a spec sets it: the
    fixtures' few records make most edits of a test a mass change (tests/storesync/test_brake.py)."""
    entities = []
    for name, spec in (("products", products), ("customers", customers), ("orders", orders)):
        if spec is not None:
            entities.append({"type": name, "max_changes_percent": 100, **spec})
    return services.configure_sync(store, sync_frequency=frequency, entities=entities, **extra)


def edit_platform(product: Product, **values) -> Product:
    """Change a platform product the way the catalogue API does (updated_at moves)."""
    for name, value in values.items():
        setattr(product, name, value)
    product.save()
    return product


def platform_product(store, shop_id: int) -> Product:
    return Product.objects.get(store=store, id_origin=shop_id)


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.000001"))


__all__ = ["configure", "edit_platform", "money", "platform_product", "timezone"]
