"""The sync applies the catalogue's field rules, the ones the API and the admin apply: a value
the catalogue refuses is not written, whichever side it comes from."""

from __future__ import annotations

import pytest

from storesync import services
from storesync.engine.entities import validate
from storesync.models import DeadLetter
from tests.plugins.simulator import sim_post
from tests.storesync.conftest import configure, edit_platform, platform_product

pytestmark = pytest.mark.django_db


def test_a_negative_stock_from_the_shop_is_dead_lettered_not_written(shop_store, sim):
    configure(shop_store, products={})
    services.run_sync_now(shop_store, sync_type="full")
    before = platform_product(shop_store, 2).inventory
    sim_post(sim, "mutate", {"products": [2], "fields": {"quantity": -5}})
    job = services.run_sync_now(shop_store, sync_type="full")
    assert job.status == "partial"
    letter = DeadLetter.objects.get(store=shop_store)
    assert (letter.code, letter.operation, letter.shop_id) == ("INVALID_DATA_FORMAT", "update_platform", 2)
    assert "inventory" in letter.error
    assert platform_product(shop_store, 2).inventory == before


def test_a_negative_price_saved_around_the_api_is_not_sent_to_the_shop(shop_store, sim):
    configure(shop_store, products={})
    services.run_sync_now(shop_store, sync_type="full")
    edit_platform(platform_product(shop_store, 3), price="-1")  # a save() that skips full_clean()
    job = services.run_sync_now(shop_store)
    assert job.status == "partial"
    letter = DeadLetter.objects.get(store=shop_store)
    assert (letter.code, letter.operation) == ("INVALID_DATA_FORMAT", "update_store") and "price" in letter.error


def test_a_remembered_check_answers_as_the_first_for_each_value_and_type():
    """The field checks are remembered per value (a first full sync checks every value of every
    record): the same value gets the same answer, an equal value of another type its own."""

    for _ in range(2):
        assert validate("products", {"inventory": -1, "price": "1.000000"}) == {"inventory": "Must not be negative."}
        assert validate("products", {"title": "x" * 256}).keys() == {"title"}
        assert validate("products", {"title": "x" * 255, "sku": "A" * 64}) == {}
        assert validate("products", {"inventory": True}) == {"inventory": "expected an integer"}
        assert validate("products", {"inventory": 1}) == {}
