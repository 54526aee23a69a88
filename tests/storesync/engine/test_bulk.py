"""The engine's bulk writes: records inserted with COPY read back as ``bulk_create`` would
have written them, and the ``= ANY`` filter finds what ``__in`` finds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import F, Value
from django.db.models.functions import NullIf

from catalog.models import Order, Product
from storesync import services
from storesync.engine import ledger
from storesync.engine.bulk import AnyOf, DistinctFrom, create_records
from storesync.models import SyncRecordState
from tests.storesync.conftest import configure

pytestmark = pytest.mark.django_db


def test_created_records_get_their_ids_dates_and_defaults_and_read_back_equal(make_store):
    store = make_store()
    before = Product.objects.create(store=store, name="Made before", sku="B-1")
    products = [
        Product(store=store, id_origin=7, name='Tab\there, "quoted"\nline \\ two', price="12.500000", sku="A-1"),
        Product(store=store, id_origin=8, name="Second", inventory=3, status="inactive"),
    ]
    order = Order(store=store, id_origin=9, reference="R-9", total="1.000000", customer_info={"name": "Ann", "n": "1"})

    create_records(Product, products)
    create_records(Order, [order])

    assert products[0].pk > before.pk and products[1].pk == products[0].pk + 1
    assert all(p.updated_at is not None and p.created_at == p.updated_at for p in products)
    first, second = Product.objects.get(pk=products[0].pk), Product.objects.get(pk=products[1].pk)
    assert (first.name, first.price, first.sku, first.inventory, first.status) == (
        'Tab\there, "quoted"\nline \\ two',
        Decimal("12.5"),
        "A-1",
        0,
        "active",
    )
    assert (second.inventory, second.status, second.updated_at) == (3, "inactive", products[1].updated_at)
    assert first.uuid != second.uuid
    assert Order.objects.get(pk=order.pk).customer_info == {"name": "Ann", "n": "1"}
    assert Product.objects.create(store=store, name="After").pk > products[1].pk  # the sequence moved on


def test_any_of_finds_what_in_finds(make_store):
    store = make_store()
    Product.objects.bulk_create(Product(store=store, name=f"P{i}", sku=f"S-{i}", id_origin=i) for i in range(1, 6))
    assert sorted(Product.objects.filter(AnyOf(F("id_origin"), [2, 4, 99])).values_list("id_origin", flat=True)) == [
        2,
        4,
    ]
    assert sorted(Product.objects.filter(AnyOf(F("sku"), ["S-1", "S-5"])).values_list("sku", flat=True)) == [
        "S-1",
        "S-5",
    ]
    assert not SyncRecordState.objects.filter(AnyOf(F("shop_id"), [])).exists()


def test_a_run_filling_the_tables_refreshes_their_statistics_each_time_its_creates_double(
    shop_store, settings, monkeypatch
):
    """Eight products in batches of two: the tables are analyzed after 2, 4 and 8 creates (their
    planner statistics follow the run, not the near-empty tables it started with)."""

    settings.STORESYNC_BATCH_SIZE = 2
    configure(shop_store, products={})
    analyzed = []
    real = ledger.refresh_statistics

    def refresh(*tables):
        analyzed.append((Product.objects.filter(store=shop_store).count(), tables))
        real(*tables)

    monkeypatch.setattr(ledger, "refresh_statistics", refresh)
    job = services.run_sync_now(shop_store, sync_type="full")

    assert job.status == "succeeded" and job.entity_results["products"]["records_created"] == 8
    assert [count for count, _ in analyzed] == [2, 4, 8]
    assert all(tables == (Product, SyncRecordState) for _, tables in analyzed)


def test_distinct_from_keeps_unequal_values_and_a_null_on_one_side_only(make_store):
    store = make_store()
    Product.objects.bulk_create(
        Product(store=store, name=name, sku=sku) for name, sku in (("same", "same"), ("a", "b"), ("c", ""))
    )
    kept = Product.objects.filter(store=store).filter(DistinctFrom(F("name"), NullIf(F("sku"), Value(""))))
    assert sorted(kept.values_list("name", flat=True)) == ["a", "c"]
