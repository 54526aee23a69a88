"""The sync engine against the shop simulator over HTTP and the database: directions,
strategies, rules, filters, creates, full and incremental syncs, retries and dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from catalog.models import Customer, Order, Product
from catalog.services import import_products_now
from storesync import services
from storesync.models import DeadLetter, SyncConflict, SyncEntity, SyncRecordState
from tests.plugins.simulator import sim_get, sim_post, sim_stats
from tests.storesync.conftest import configure, platform_product

pytestmark = pytest.mark.django_db


def shop(sim, shop_id: int) -> dict:
    return sim_get(sim, f"products/{shop_id}")


def shop_time(sim, shop_id: int) -> datetime:
    return datetime.strptime(shop(sim, shop_id)["date_upd"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def mutate(sim, shop_id: int, **fields) -> None:
    sim_post(sim, "mutate", {"products": [shop_id], "fields": fields})


def set_platform(store, shop_id: int, *, at: datetime | None = None, **values) -> Product:
    """Change a platform product; ``at`` sets its modification time (default: now)."""
    product = platform_product(store, shop_id)
    if at is None:
        for name, value in values.items():
            setattr(product, name, value)
        product.save()
    else:
        Product.objects.filter(pk=product.pk).update(updated_at=at, **values)
    return platform_product(store, shop_id)


def synced(store, **products):
    """Configure products (bidirectional unless told) and run the first, full sync."""
    configure(store, products=products or {})
    job = services.run_sync_now(store, sync_type="full")
    assert job.status == "succeeded", (job.message, job.errors)
    return job


def sync(store, **kwargs):
    job = services.run_sync_now(store, **kwargs)
    assert job.status in ("succeeded", "partial"), (job.message, job.errors)
    return job


def test_the_first_full_sync_creates_every_shop_record_on_the_platform(shop_store, sim):
    configure(shop_store, products={}, customers={}, orders={})
    job = services.run_sync_now(shop_store, sync_type="full")
    assert job.status == "succeeded", job.message
    assert job.entity_results["products"]["records_created"] == 8
    assert Product.objects.filter(store=shop_store).count() == 8
    assert Customer.objects.filter(store=shop_store).count() == 4
    orders = list(Order.objects.filter(store=shop_store))
    assert len(orders) == 4 and all(order.customer is not None for order in orders)
    assert SyncRecordState.objects.filter(store=shop_store).count() == 16
    product = platform_product(shop_store, 3)
    raw = shop(sim, 3)
    assert (product.name, product.sku, product.price) == (raw["name"]["1"], raw["reference"], Decimal(raw["price"]))
    assert product.inventory == int(raw["quantity"])
    again = sync(shop_store, sync_type="full")
    assert again.counters["records_updated"] == 0 and again.counters["records_created"] == 0


def test_bidirectional_changes_flow_both_ways(shop_store, sim):
    synced(shop_store)
    set_platform(shop_store, 2, name="Renamed on the platform", inventory=77)
    mutate(sim, 5, price="42.000000")
    job = sync(shop_store)
    assert shop(sim, 2)["name"]["1"] == "Renamed on the platform"
    assert shop(sim, 2)["quantity"] == "77"
    assert platform_product(shop_store, 5).price == Decimal("42")
    assert job.entity_results["products"]["records_updated"] == 2
    assert sim_stats(sim)["product_write"] == 1


def test_to_platform_makes_the_platform_a_mirror(shop_store, sim):
    synced(shop_store, direction="to_platform")
    set_platform(shop_store, 2, price="1.000000")
    mutate(sim, 3, price="33.000000")
    sim_post(sim, "reset_stats")
    job = sync(shop_store)
    assert platform_product(shop_store, 2).price == Decimal(shop(sim, 2)["price"])  # the edit is overwritten
    assert platform_product(shop_store, 3).price == Decimal("33")
    assert sim_stats(sim).get("product_write", 0) == 0
    assert job.entity_results["products"]["records_updated"] == 2


def test_to_store_pushes_the_platform_and_overwrites_shop_edits(shop_store, sim):
    configure(shop_store, products={"direction": "to_store"})
    sync(shop_store, sync_type="full")
    assert not Product.objects.filter(store=shop_store).exists()  # shop records never come to the platform
    import_products_now(shop_store)  # the platform's catalogue, imported once
    sync(shop_store, sync_type="full")
    before = shop(sim, 3)["price"]
    mutate(sim, 3, price="33.000000")
    set_platform(shop_store, 4, name="Central name")
    sync(shop_store)
    assert shop(sim, 3)["price"] == before
    assert platform_product(shop_store, 3).price == Decimal(before)
    assert shop(sim, 4)["name"]["1"] == "Central name"


@pytest.mark.parametrize(
    ("strategy", "platform_offset", "winner"),
    [
        ("last_write_wins", timedelta(hours=-1), "store"),
        ("last_write_wins", timedelta(hours=1), "platform"),
        ("last_write_wins", timedelta(milliseconds=400), "platform"),  # same second: a tie
        ("store_priority", timedelta(hours=1), "store"),
        ("platform_priority", timedelta(hours=-1), "platform"),
    ],
)
def test_strategies_settle_conflicts(shop_store, sim, strategy, platform_offset, winner):
    synced(shop_store, conflict_resolution=strategy)
    mutate(sim, 4, price="50.000000")
    set_platform(shop_store, 4, at=shop_time(sim, 4) + platform_offset, price="60.000000")
    job = sync(shop_store)
    expected = "50.000000" if winner == "store" else "60.000000"
    assert shop(sim, 4)["price"] == expected
    assert platform_product(shop_store, 4).price == Decimal(expected)
    conflict = SyncConflict.objects.get(store=shop_store, field="price")
    assert conflict.status == "resolved" and conflict.resolution == f"strategy:{strategy}"
    assert (conflict.store_value, conflict.platform_value) == ("50.000000", "60.000000")
    assert job.entity_results["products"]["conflicts_resolved"] == 1


def test_manual_resolution_keeps_both_values_and_a_pending_conflict(shop_store, sim):
    synced(shop_store, conflict_resolution="manual_resolution")
    mutate(sim, 4, price="50.000000", name="Shop name")
    set_platform(shop_store, 4, price="60.000000")
    job = sync(shop_store)
    assert shop(sim, 4)["price"] == "50.000000"
    assert platform_product(shop_store, 4).price == Decimal("60")
    assert platform_product(shop_store, 4).name == "Shop name"  # the other field syncs normally
    [conflict] = SyncConflict.objects.filter(store=shop_store)
    assert conflict.status == "pending" and conflict.field == "price"
    assert job.entity_results["products"]["conflicts_pending"] == 1
    sync(shop_store, sync_type="full")
    assert SyncConflict.objects.filter(store=shop_store).count() == 1  # the same conflict, not a new one
    mutate(sim, 4, price="60.000000")  # someone makes the sides agree
    sync(shop_store)
    conflict.refresh_from_db()
    assert conflict.status == "resolved" and conflict.resolution == "sides_agree"


def test_rules_take_precedence_over_the_strategy(shop_store, sim):
    synced(shop_store, conflict_resolution="store_priority")
    services.set_rules(
        shop_store,
        [
            {
                "name": "price_conflict_resolution",
                "entity_type": "products",
                "field": "price",
                "condition": "conflict_detected",
                "action": "use_highest_value",
            },
            {
                "name": "lower",
                "entity_type": "products",
                "field": "price",
                "condition": "conflict_detected",
                "action": "use_lowest_value",
            },
        ],
    )
    mutate(sim, 4, price="50.000000", name="Shop name")
    set_platform(shop_store, 4, price="70.000000", name="Platform name")
    sync(shop_store)
    assert shop(sim, 4)["price"] == "70.000000"  # the first rule: highest value
    assert shop(sim, 4)["name"]["1"] == "Shop name"  # no rule for the title: the strategy
    assert platform_product(shop_store, 4).name == "Shop name"
    resolutions = dict(SyncConflict.objects.filter(store=shop_store).values_list("field", "resolution"))
    assert resolutions == {"price": "rule:price_conflict_resolution", "title": "strategy:store_priority"}


def test_filters_and_excluded_fields(shop_store, sim):
    configure(shop_store, products={})
    services.set_filters(
        shop_store,
        entity_type="products",
        filters=[
            {"field": "status", "operator": "equals", "value": "active"},
            {"field": "price", "operator": "greater_than", "value": 0},
        ],
        exclude_fields=["description", "vendor_code"],
    )
    mutate(sim, 2, active=False)
    mutate(sim, 6, price="0.000000")
    sync(shop_store, sync_type="full")
    created = set(Product.objects.filter(store=shop_store).values_list("id_origin", flat=True))
    assert created and not created & {2, 6}
    assert created == {i for i in range(1, 9) if shop(sim, i)["active"] == "1" and i != 6}
    shop_id = min(created)
    assert platform_product(shop_store, shop_id).description == ""  # excluded: never copied
    mutate(sim, shop_id, description="New text", price="9.000000")
    sync(shop_store)
    product = platform_product(shop_store, shop_id)
    assert product.description == "" and product.price == Decimal("9")
    set_platform(shop_store, shop_id, description="Platform text")
    sync(shop_store)
    assert shop(sim, shop_id)["description"]["1"] == "New text"


def test_a_change_that_takes_a_record_out_of_scope_still_reaches_the_other_side(shop_store, sim):
    configure(shop_store, products={})
    services.set_filters(
        shop_store,
        entity_type="products",
        exclude_fields=[],
        filters=[{"field": "status", "operator": "equals", "value": "active"}],
    )
    sync(shop_store, sync_type="full")
    shop_id = Product.objects.filter(store=shop_store, status="active").first().id_origin
    mutate(sim, shop_id, active=False)
    sync(shop_store)
    assert platform_product(shop_store, shop_id).status == "inactive"


def test_creates_on_both_sides(shop_store, sim):
    configure(shop_store, products={}, customers={})
    sync(shop_store, sync_type="full")
    new = Product.objects.create(
        store=shop_store,
        name="Made on the platform",
        sku="HUB-1",
        price="19.900000",
        inventory=5,
        description="From head office",
    )
    Customer.objects.create(store=shop_store, email="new@example.com", first_name="Nina", last_name="Neu")
    sim_post(sim, "reset_stats")
    job = sync(shop_store)
    new.refresh_from_db()
    assert new.id_origin is not None
    raw = shop(sim, new.id_origin)
    assert (raw["name"]["1"], raw["reference"], raw["price"], raw["quantity"]) == (
        "Made on the platform",
        "HUB-1",
        "19.900000",
        "5",
    )
    customer = Customer.objects.get(store=shop_store, email="new@example.com")
    assert sim_get(sim, f"customers/{customer.id_origin}")["firstname"] == "Nina"
    assert sim_stats(sim)["product_post"] == 1 and sim_stats(sim)["customer_post"] == 1
    assert job.counters["records_created"] == 2
    sim_post(sim, "reset_stats")
    again = sync(shop_store)
    assert again.counters["records_created"] == 0
    assert "product_post" not in sim_stats(sim) and "product_write" not in sim_stats(sim)


def test_orders_flow_to_the_platform(shop_store, sim):
    configure(shop_store, customers={}, orders={})
    sync(shop_store, sync_type="full")
    order = Order.objects.filter(store=shop_store).first()
    Order.objects.filter(pk=order.pk).update(status="edited", updated_at=datetime.now(UTC))
    sync(shop_store)
    order.refresh_from_db()
    assert order.status == sim_get(sim, f"orders/{order.id_origin}")["current_state"]


def test_incremental_reads_only_changes_and_full_reads_everything(shop_store, sim, settings):
    settings.STORESYNC_PAGE_SIZE = 3
    synced(shop_store)
    sim_post(sim, "reset_stats")
    full = sync(shop_store, sync_type="full")
    full_pages, served = sim_stats(sim)["products_list"], sim_stats(sim)["products_list_rows"]
    assert full_pages >= 8 / 3
    # Every record, and a few read again where a page ends (keyset pages restart at its second).
    assert 8 <= served <= 8 + full_pages and full.entity_results["products"]["records_synced"] == 8
    mutate(sim, 2, price="12.000000")
    sim_post(sim, "reset_stats")
    job = sync(shop_store)
    # One page from the watermark (the product just changed, and the last one seen before).
    assert sim_stats(sim)["products_list"] == 1 < full_pages
    served = sim_stats(sim)["products_list_rows"]
    assert 1 <= served <= 2 and sim_stats(sim)["stock_list_rows"] == served  # stock for those only
    assert job.entity_results["products"]["records_synced"] <= 2
    assert platform_product(shop_store, 2).price == Decimal("12")


def _edit_during_the_first_batch(monkeypatch, sim, shop_id: int) -> list[list[int]]:
    """A clerk edits ``shop_id`` in the shop while the sync merges its first batch; returns
    the shop ids of every batch the store pass merges."""
    from storesync.engine import sync as engine

    original, batches = engine.EntitySync.store_batch, []

    def store_batch(self, remotes, checkpoint):
        if not batches:
            mutate(sim, shop_id, price="77.000000")
        batches.append([remote.id for remote in remotes])
        return original(self, remotes, checkpoint)

    monkeypatch.setattr(engine.EntitySync, "store_batch", store_batch)
    return batches


def test_a_product_changed_in_the_shop_during_an_incremental_sync_is_not_skipped(
    shop_store, sim, settings, monkeypatch
):
    """Changes are read by keyset: a record changed mid-scan moves behind the cursor and is
    read again; with offsets, the record after the first page would slide into it, unread."""
    settings.STORESYNC_PAGE_SIZE = settings.STORESYNC_BATCH_SIZE = 3
    synced(shop_store)
    SyncEntity.objects.filter(config__store=shop_store).update(store_watermark=None)  # every record is a change
    order = sorted(range(1, 9), key=lambda i: (shop_time(sim, i), i))
    batches = _edit_during_the_first_batch(monkeypatch, sim, order[0])
    sync(shop_store)

    seen = [shop_id for batch in batches for shop_id in batch]
    assert seen == [*order, order[0]]
    assert platform_product(shop_store, order[0]).price == Decimal("77")


def test_a_product_changed_in_the_shop_during_a_full_sync_is_read_by_the_next_sync(
    shop_store, sim, settings, monkeypatch
):
    """A full sync reads windows of ids in parallel; a record changed behind its window is
    the next sync's change (the watermark is the shop's latest change when the scan began)."""
    settings.STORESYNC_PAGE_SIZE = settings.STORESYNC_BATCH_SIZE = 3
    synced(shop_store)
    batches = _edit_during_the_first_batch(monkeypatch, sim, 2)
    sync(shop_store, sync_type="full")
    assert [shop_id for batch in batches for shop_id in batch] == list(range(1, 9))

    monkeypatch.undo()
    sync(shop_store)
    assert platform_product(shop_store, 2).price == Decimal("77")


def test_transient_shop_errors_are_retried(shop_store, sim):
    synced(shop_store)
    set_platform(shop_store, 2, price="21.000000")
    # The connector tries a write (PATCH) 4 times; 6 failures make the engine try the record again.
    sim_post(sim, "config", {"fail_next": {"count": 6, "status": 503, "method": "PATCH"}})
    job = sync(shop_store)
    assert job.status == "succeeded"
    assert shop(sim, 2)["price"] == "21.000000"
    assert sim_stats(sim)["injected_failures"] == 6
    assert not DeadLetter.objects.exists()


def test_permanent_failures_are_dead_lettered_and_can_be_requeued(shop_store, sim):
    synced(shop_store)
    set_platform(shop_store, 2, price="21.000000")
    set_platform(shop_store, 3, price="31.000000")
    sim_post(sim, "config", {"fail_next": {"count": 1, "status": 400, "method": "PATCH"}})
    job = sync(shop_store)
    assert job.status == "partial"
    [letter] = DeadLetter.objects.all()
    assert letter.code == "INVALID_DATA_FORMAT" and letter.attempts == 1 and letter.operation == "update_store"
    assert job.errors[0]["code"] == "INVALID_DATA_FORMAT"
    wanted = {2: "21.000000", 3: "31.000000"}
    failed = letter.shop_id
    assert letter.payload == {"price": wanted[failed]}
    [applied] = set(wanted) - {failed}
    assert shop(sim, applied)["price"] == wanted[applied]
    assert shop(sim, failed)["price"] != wanted[failed]
    [requeued] = services.requeue_dead_letters([letter])
    letter.refresh_from_db()
    assert letter.status == "requeued" and letter.requeue_job == requeued
    from storesync.runner import StoreSyncRunner

    StoreSyncRunner.execute(requeued.pk, "test")
    requeued.refresh_from_db()
    assert requeued.status == "succeeded", requeued.message
    assert shop(sim, failed)["price"] == wanted[failed]
    letter.refresh_from_db()
    assert letter.status == "resolved"


def test_a_record_that_keeps_failing_transiently_is_dead_lettered_after_five_attempts(shop_store, sim):
    synced(shop_store)
    set_platform(shop_store, 2, price="21.000000")
    set_platform(shop_store, 3, price="31.000000")
    sim_post(sim, "config", {"fail_next": {"count": 20, "status": 503, "method": "PATCH"}})
    job = sync(shop_store)
    assert job.status == "partial"
    [letter] = DeadLetter.objects.all()
    assert letter.attempts == 5 and letter.code == "PLATFORM_SERVER_ERROR"
    assert sim_stats(sim)["injected_failures"] == 20


def test_a_shop_that_is_down_fails_the_job_after_its_retries(shop_store, sim):
    synced(shop_store)
    sim_post(sim, "config", {"failure_rate": 1.0})
    job = services.run_sync_now(shop_store)
    assert job.status == "failed"
    assert job.retries == 4 and "gave up after 5 attempts" in job.message
    assert job.message.startswith("PLATFORM_SERVER_ERROR")


def test_invalid_values_are_not_written(shop_store, sim):
    synced(shop_store)
    Product.objects.filter(store=shop_store, id_origin=2).update(name="", updated_at=datetime.now(UTC))
    job = sync(shop_store)
    assert job.status == "partial"
    letter = DeadLetter.objects.get()
    assert letter.code == "INVALID_DATA_FORMAT" and "title" in letter.error
    assert shop(sim, 2)["name"]["1"] != ""
    off = services.run_sync_now(shop_store, sync_type="full", options={"validate_data": False})
    assert off.status == "partial"  # the shop refuses an empty name itself


def test_a_pause_stops_a_running_job_after_its_batch_and_a_resume_loses_nothing(shop_store, sim, settings, monkeypatch):
    from storesync.engine import sync as engine

    settings.STORESYNC_PAGE_SIZE = settings.STORESYNC_BATCH_SIZE = 3
    synced(shop_store)
    for shop_id in range(1, 9):
        mutate(sim, shop_id, price=f"{shop_id}1.000000")
    original, batches = engine.EntitySync.store_batch, []

    def store_batch(self, remotes, checkpoint):
        if not batches:
            services.pause_sync(shop_store)  # an operator pauses while the first batch runs
        batches.append(len(remotes))
        return original(self, remotes, checkpoint)

    monkeypatch.setattr(engine.EntitySync, "store_batch", store_batch)
    job = services.run_sync_now(shop_store)
    assert job.status == "cancelled" and batches == [3]
    assert sum(platform_product(shop_store, i).price == Decimal(f"{i}1") for i in range(1, 9)) == 3

    monkeypatch.setattr(engine.EntitySync, "store_batch", original)
    services.resume_sync(shop_store)
    resumed = sync(shop_store)
    assert resumed.status == "succeeded"
    assert all(platform_product(shop_store, i).price == Decimal(f"{i}1") for i in range(1, 9))
