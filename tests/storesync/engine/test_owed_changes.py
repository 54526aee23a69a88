"""The owed-change ledger: a record whose write or create failed stays owed (its open dead
letter) and every later sync reads it again, whatever the watermarks, until it converges; and
created records carry their identity, whatever ``fields`` limits on update."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from catalog.models import Customer, Product
from catalog.platforms import create_ecommerce_service
from config import retention
from storesync import services
from storesync.models import DeadLetter
from storesync.runner import StoreSyncRunner
from tests.plugins.simulator import sim_get, sim_post
from tests.storesync.conftest import configure, edit_platform, platform_product

pytestmark = pytest.mark.django_db

# The shop's least recently changed product: no incremental sync reads it unless it is owed (the
# store watermark is inclusive, so the most recent one is read again every time).
OLD = 6
REFUSE = {"status": 400, "code": 85}  # PrestaShop's answer to a field value it will not take


@pytest.fixture(autouse=True)
def _no_clock_skew(settings):
    # An edit made before a job started is older than the skew the next job re-reads: the
    # issue's 6.5 s wait, without sleeping.
    settings.STORESYNC_CLOCK_SKEW = 0


def refuse_next(sim, method: str, count: int = 1) -> None:
    sim_post(sim, "config", {"fail_next": {**REFUSE, "count": count, "method": method}})


def first_sync(store, **products):
    configure(store, products=products or {}, customers={})
    job = services.run_sync_now(store, sync_type="full")
    assert job.status == "succeeded", job.message


def test_a_refused_platform_edit_is_written_by_the_next_incremental_sync(shop_store, sim):
    first_sync(shop_store)
    edit_platform(platform_product(shop_store, OLD), price="77.770000")
    refuse_next(sim, "PATCH")
    refused = services.run_sync_now(shop_store)
    assert refused.status == "partial"
    [letter] = DeadLetter.objects.all()
    assert (letter.operation, letter.shop_id, letter.status) == ("update_store", OLD, "pending")

    healed = services.run_sync_now(shop_store)  # the shop accepts again

    assert healed.status == "succeeded" and healed.error_count == 0, healed.errors
    assert sim_get(sim, f"products/{OLD}")["price"] == "77.770000"
    assert platform_product(shop_store, OLD).price == Decimal("77.77")
    letter.refresh_from_db()
    assert letter.status == "resolved"


def test_a_record_refused_again_keeps_one_letter_with_its_attempts_and_latest_error(shop_store, sim):
    first_sync(shop_store)
    edit_platform(platform_product(shop_store, OLD), price="77.770000")
    refuse_next(sim, "PATCH")
    services.run_sync_now(shop_store)
    sim_post(sim, "config", {"fail_next": {"count": 1, "status": 400, "code": 86, "method": "PATCH"}})

    again = services.run_sync_now(shop_store)

    assert again.status == "partial"
    [letter] = DeadLetter.objects.all()
    assert (letter.status, letter.attempts, letter.job_id) == ("pending", 2, again.pk)
    assert "86" in letter.error
    assert services.run_sync_now(shop_store).status == "succeeded"
    letter.refresh_from_db()
    assert letter.status == "resolved" and sim_get(sim, f"products/{OLD}")["price"] == "77.770000"


def test_a_refused_create_in_the_shop_is_made_by_the_next_incremental_sync(shop_store, sim):
    first_sync(shop_store)
    new = Product.objects.create(store=shop_store, name="Made on the platform", sku="HUB-7", price="19.900000")
    refuse_next(sim, "POST")
    refused = services.run_sync_now(shop_store)
    assert refused.status == "partial"
    assert DeadLetter.objects.get().operation == "create_store"

    healed = services.run_sync_now(shop_store)

    assert healed.status == "succeeded", healed.errors
    new.refresh_from_db()
    assert new.id_origin is not None
    assert sim_get(sim, f"products/{new.id_origin}")["reference"] == "HUB-7"
    assert DeadLetter.objects.get().status == "resolved"
    assert services.run_sync_now(shop_store).counters.get("records_created", 0) == 0


def test_a_create_whose_stock_the_shop_refuses_is_linked_and_its_stock_owed(shop_store, sim):
    """Found by the property tests: the shop created the product, then refused its stock row's
    write; the create was dead-lettered unlinked, leaving the product orphaned in the shop and
    the next sync creating a second one."""
    first_sync(shop_store)
    new = Product.objects.create(store=shop_store, name="Made on the platform", sku="HUB-9", price="9.90", inventory=12)
    refuse_next(sim, "PATCH")  # the stock row's write, after the product's POST

    refused = services.run_sync_now(shop_store)

    assert refused.status == "partial"
    new.refresh_from_db()
    assert new.id_origin is not None
    [letter] = DeadLetter.objects.all()
    assert (letter.operation, letter.shop_id, letter.payload) == ("update_store", new.id_origin, {"inventory": 12})

    healed = services.run_sync_now(shop_store)

    assert healed.status == "succeeded", healed.errors
    shop = create_ecommerce_service(shop_store)
    made = [product for product in shop.iter_products(since=None) if product.reference == "HUB-9"]
    assert [(product.id, product.quantity) for product in made] == [(new.id_origin, 12)]
    letter.refresh_from_db()
    assert letter.status == "resolved"


def test_a_create_whose_answer_was_lost_is_found_in_the_shop_not_made_twice(shop_store, sim):
    """The shop made the product but its answer never came (a gateway timing out after the
    work): the create is owed, and the next sync finds the product by its reference and links
    it instead of creating a second one."""
    first_sync(shop_store)
    new = Product.objects.create(store=shop_store, name="Made on the platform", sku="HUB-10", price="9.90")
    sim_post(sim, "config", {"fail_next": {"status": 504, "method": "POST", "after": True}})

    lost = services.run_sync_now(shop_store)

    assert lost.status == "partial"
    new.refresh_from_db()
    assert new.id_origin is None
    assert DeadLetter.objects.get().operation == "create_store"

    healed = services.run_sync_now(shop_store)

    assert healed.status == "succeeded", healed.errors
    shop = create_ecommerce_service(shop_store)
    made = [product.id for product in shop.iter_products(since=None) if product.reference == "HUB-10"]
    new.refresh_from_db()
    assert made == [new.id_origin]
    assert DeadLetter.objects.get().status == "resolved"


class WorkerLost(BaseException):
    """A worker dying mid-task: not an ``Exception``, so nothing in the task catches it."""


@pytest.mark.django_db(transaction=True)
def test_a_worker_dying_before_a_create_is_linked_leaves_it_owed_and_found_again(shop_store, sim):
    """The shop made the product and the worker died before the commit linking it; the
    redelivered job (resuming past that batch) must link it, not leave it unlinked with an
    orphan in the shop, nor make it twice."""
    first_sync(shop_store)
    new = Product.objects.create(store=shop_store, name="Made on the platform", sku="HUB-12", price="9.90")
    job = services.trigger_sync(shop_store, send=False)

    def die_before_the_link(execute, sql, params, many, context):
        statement = sql.lstrip()
        if statement.startswith('INSERT INTO "storesync_syncrecordstate"') and "ON CONFLICT" not in statement:
            raise WorkerLost()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(die_before_the_link), pytest.raises(WorkerLost):
        StoreSyncRunner.execute(job.pk, "message-1")
    StoreSyncRunner.execute(job.pk, "message-1")  # the same message, redelivered

    job.refresh_from_db()
    assert job.status == "succeeded", job.errors
    new.refresh_from_db()
    shop = create_ecommerce_service(shop_store)
    assert [p.id for p in shop.iter_products(since=None) if p.reference == "HUB-12"] == [new.id_origin]
    [letter] = DeadLetter.objects.all()  # what happened stays on record, settled
    assert (letter.operation, letter.status) == ("create_store", "resolved")


def test_a_create_leaves_no_letter_behind(shop_store, sim):
    """The create's owed letter, written before the shop is asked, goes with the link."""
    first_sync(shop_store)
    Product.objects.create(store=shop_store, name="Made on the platform", sku="HUB-11", price="9.90")

    assert services.run_sync_now(shop_store).status == "succeeded"

    assert not DeadLetter.objects.exists()


def test_a_full_sync_settles_owed_records_too(shop_store, sim):
    first_sync(shop_store)
    edit_platform(platform_product(shop_store, 3), price="33.330000")
    refuse_next(sim, "PATCH")
    services.run_sync_now(shop_store)
    assert services.run_sync_now(shop_store, sync_type="full").status == "succeeded"
    assert DeadLetter.objects.get().status == "resolved"
    assert sim_get(sim, "products/3")["price"] == "33.330000"


def test_a_dropped_letter_is_no_longer_owed(shop_store, sim):
    first_sync(shop_store)
    edit_platform(platform_product(shop_store, OLD), price="77.770000")
    refuse_next(sim, "PATCH")
    services.run_sync_now(shop_store)
    refuse_next(sim, "PATCH")
    services.drop_dead_letters(DeadLetter.objects.all())

    job = services.run_sync_now(shop_store)

    assert job.status == "succeeded"
    assert DeadLetter.objects.get().status == "dropped"
    assert sim_get(sim, f"products/{OLD}")["price"] != "77.770000"  # not tried again


# Identity on create


def test_a_shop_record_created_on_the_platform_carries_every_mapped_field(shop_store, sim):
    configure(shop_store, products={"fields": ["title", "price"]}, customers={"fields": ["email"]})
    assert services.run_sync_now(shop_store, sync_type="full").status == "succeeded"
    product, raw = platform_product(shop_store, 3), sim_get(sim, "products/3")
    assert raw["reference"]
    assert (product.sku, product.description, product.inventory, product.status) == (
        raw["reference"],
        raw["description"]["1"],
        int(raw["quantity"]),
        "active" if raw["active"] == "1" else "inactive",
    )
    customer = Customer.objects.filter(store=shop_store).first()
    shop_customer = sim_get(sim, f"customers/{customer.id_origin}")
    assert (customer.first_name, customer.last_name) == (shop_customer["firstname"], shop_customer["lastname"])


def test_a_platform_record_created_in_the_shop_carries_every_mapped_field(shop_store, sim):
    configure(shop_store, products={"fields": ["title", "price"]})
    services.set_filters(shop_store, entity_type="products", filters=[], exclude_fields=["description"])
    services.run_sync_now(shop_store, sync_type="full")
    new = Product.objects.create(
        store=shop_store,
        name="Made on the platform",
        sku="HUB-1",
        price="19.900000",
        inventory=5,
        description="Not for the shop",
        status="inactive",
    )
    assert services.run_sync_now(shop_store).status == "succeeded"
    new.refresh_from_db()
    raw = sim_get(sim, f"products/{new.id_origin}")
    assert set(raw["name"].values()) == {"Made on the platform"}  # every shop language
    assert (raw["reference"], raw["price"], raw["quantity"], raw["active"]) == ("HUB-1", "19.900000", "5", "0")
    assert set(raw["description"].values()) == {""}  # excluded


@pytest.mark.parametrize("sync_type", ["incremental", "full"])
def test_a_product_created_on_both_sides_with_the_same_sku_is_one_record(shop_store, sim, sync_type):
    first_sync(shop_store)
    shop = create_ecommerce_service(shop_store)
    made = shop.create_product({"title": "Twin in the shop", "price": "5.000000", "sku": "TWIN-1"})
    twin = Product.objects.create(store=shop_store, name="Twin on the platform", price="6.00", sku="TWIN-1")
    Product.objects.create(store=shop_store, name="Only on the platform", price="7.00", sku="SOLO-1")

    job = services.run_sync_now(shop_store, sync_type=sync_type)

    assert job.status == "succeeded", job.errors
    twin.refresh_from_db()
    assert twin.id_origin == made.id  # linked, not created again on either side
    assert Product.objects.filter(store=shop_store, sku="TWIN-1").count() == 1
    references = [product.reference for product in shop.iter_products(since=None)]
    assert references.count("TWIN-1") == 1 and references.count("SOLO-1") == 1
    # Created apart, their values were never agreed: the strategy (last write wins) settles them.
    assert sim_get(sim, f"products/{made.id}")["price"] == f"{twin.price:.6f}"


def test_twins_stay_linked_when_the_shop_refuses_their_merge(shop_store, sim):
    """Found by the property tests: the merge of two twins writes the shop; when the shop
    refused it, the link was lost with the write and the next sync created a second product."""
    configure(shop_store, products={"conflict_resolution": "platform_priority"}, customers={})
    assert services.run_sync_now(shop_store, sync_type="full").status == "succeeded"
    shop = create_ecommerce_service(shop_store)
    made = shop.create_product({"title": "Mug", "price": "2.000000", "sku": "TWIN-2"})
    twin = Product.objects.create(store=shop_store, name="Mug", price="1.00", sku="TWIN-2")
    refuse_next(sim, "PATCH")

    assert services.run_sync_now(shop_store).status == "partial"
    twin.refresh_from_db()
    assert twin.id_origin == made.id

    healed = services.run_sync_now(shop_store)
    assert healed.status == "succeeded", healed.errors
    references = [product.reference for product in shop.iter_products(since=None)]
    assert references.count("TWIN-2") == 1
    assert sim_get(sim, f"products/{made.id}")["price"] == "1.000000"  # the platform's, by priority


def test_an_owed_record_a_sync_cannot_settle_keeps_the_job_partial_until_dropped(shop_store, sim):
    first_sync(shop_store)
    Product.objects.create(store=shop_store, name="Made on the platform", sku="HUB-8", price="9.900000")
    refuse_next(sim, "POST")
    services.run_sync_now(shop_store)
    configure(shop_store, products={"direction": "to_platform"})  # no more creates in the shop

    job = services.run_sync_now(shop_store)

    assert job.status == "partial"
    assert [(e["operation"], e["message"].split(":")[0]) for e in job.errors] == [("create_store", "Still owed")]
    assert DeadLetter.objects.get().status == "pending"
    services.drop_dead_letters(DeadLetter.objects.all())
    assert services.run_sync_now(shop_store).status == "succeeded"


def test_retention_prunes_settled_letters_never_owed_ones(shop_store, sim):
    first_sync(shop_store)
    for shop_id in (2, 3, 4):
        edit_platform(platform_product(shop_store, shop_id), price="1.230000")
    refuse_next(sim, "PATCH", count=3)
    services.run_sync_now(shop_store)
    dropped, resolved, owed = DeadLetter.objects.order_by("shop_id")
    services.drop_dead_letters([dropped])
    DeadLetter.objects.filter(pk=resolved.pk).update(status="resolved")
    [rule] = [r for r in retention.rules() if r.label.startswith("store sync dead letters")]
    pruned = rule.select(timezone.now() + timedelta(days=1))
    assert set(pruned.values_list("pk", flat=True)) == {dropped.pk, resolved.pk}
