"""Delete propagation against the simulator over HTTP: each entity's ``delete_policy`` (ignore,
deactivate, delete) in each direction; the reconciliation sweep of the shop's ids (ids only, by
keyset), run by every full sync and by the daily beat task; the platform's tombstones; the
history rows of what the sync deleted or deactivated; bad configuration values."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from catalog.models import Customer, Product
from catalog.platforms import create_ecommerce_service
from catalog.roles import Role
from operations.retention import prune
from storesync import services, tasks
from storesync.admin import EntityForm
from storesync.engine.deletes import DeleteSeen, gone_from_shop, plan_deletes
from storesync.engine.entities import ADAPTERS
from storesync.models import StoreSyncJob, SyncChange, SyncEntity, SyncRecordState, SyncTombstone
from storesync.runner import StoreSyncRunner
from tests.plugins.simulator import sim_get, sim_post, sim_stats
from tests.storesync.conftest import configure, edit_platform, platform_product

pytestmark = pytest.mark.django_db

GONE = 4  # the shop id deleted on one side in these tests (an active product)


def shop_has(sim, resource: str, record_id: int) -> bool:
    return httpx.get(f"{sim.url}/_sim/{resource}/{record_id}").status_code == 200


def delete_in_shop(sim, resource: str, record_id: int) -> None:
    sim_post(sim, f"{resource}/{record_id}/delete")


def first_sync(store, *, products=None, customers=None, frequency="manual"):
    configure(store, products=products, customers=customers, frequency=frequency)
    job = services.run_sync_now(store, sync_type="full")
    assert job.status == "succeeded", job.message
    return job


def state(store, entity: str, shop_id: int):
    return SyncRecordState.objects.filter(store=store, entity_type=entity, shop_id=shop_id).first()


# Deleted in the shop: seen by the sweep of a full sync


def test_a_shop_delete_is_ignored_by_default(shop_store, sim):
    first_sync(shop_store, products={})
    product = platform_product(shop_store, GONE)
    delete_in_shop(sim, "products", GONE)

    job = services.run_sync_now(shop_store, sync_type="full")

    assert job.status == "succeeded", job.message
    product.refresh_from_db()
    assert product.status == "active"
    assert state(shop_store, "products", GONE) is not None
    assert not SyncChange.objects.filter(job=job).exists()


def test_a_shop_delete_deactivates_the_platform_product(shop_store, sim):
    first_sync(shop_store, products={"delete_policy": "deactivate"})
    product = platform_product(shop_store, GONE)
    assert product.status == "active"
    delete_in_shop(sim, "products", GONE)

    job = services.run_sync_now(shop_store, sync_type="full")

    assert job.status == "succeeded", job.message
    product.refresh_from_db()
    assert product.status == "inactive"
    assert state(shop_store, "products", GONE) is None  # nothing left to pair it with
    [change] = SyncChange.objects.filter(job=job)
    assert (change.record_pk, change.shop_id, change.side, change.action, change.field) == (
        product.pk,
        GONE,
        "platform",
        "update",
        "status",
    )
    assert (change.old_value, change.new_value) == ("active", "inactive")
    assert job.entity_results["products"]["records_updated"] >= 1
    assert Product.objects.filter(store=shop_store).count() == 8
    # The others untouched.
    assert set(Product.objects.filter(store=shop_store).exclude(pk=product.pk).values_list("id_origin", "status")) == {
        (i, "inactive" if i == 3 else "active") for i in (1, 2, 3, 5, 6, 7, 8)
    }
    # The next full sync finds nothing more to do.
    again = services.run_sync_now(shop_store, sync_type="full")
    assert again.status == "succeeded" and not SyncChange.objects.filter(job=again).exists()


def test_a_shop_delete_deletes_the_platform_product_with_its_last_values_in_the_history(shop_store, sim):
    first_sync(shop_store, products={"delete_policy": "delete"})
    product = platform_product(shop_store, GONE)
    delete_in_shop(sim, "products", GONE)

    job = services.run_sync_now(shop_store, sync_type="full")

    assert job.status == "succeeded", job.message
    assert not Product.objects.filter(pk=product.pk).exists()
    assert state(shop_store, "products", GONE) is None
    assert not SyncTombstone.objects.exists()  # the sync's own delete leaves no tombstone
    [change] = SyncChange.objects.filter(job=job)
    assert (change.record_pk, change.shop_id, change.side, change.action, change.field) == (
        product.pk,
        GONE,
        "platform",
        "delete",
        "*",
    )
    assert change.new_value is None
    assert change.old_value["title"] == product.name and change.old_value["sku"] == product.sku
    assert change.old_value["price"] == f"{product.price:.6f}"
    assert job.entity_results["products"]["records_deleted"] == 1
    assert Product.objects.filter(store=shop_store).count() == 7


def test_a_shop_customer_delete_deletes_the_platform_customer(shop_store, sim):
    first_sync(shop_store, customers={"delete_policy": "delete"})
    assert Customer.objects.filter(store=shop_store, id_origin=2).exists()
    delete_in_shop(sim, "customers", 2)

    job = services.run_sync_now(shop_store, sync_type="full")

    assert job.status == "succeeded", job.message
    assert not Customer.objects.filter(store=shop_store, id_origin=2).exists()
    assert Customer.objects.filter(store=shop_store).count() == 3
    assert SyncChange.objects.get(job=job).action == "delete"


def test_a_direction_that_does_not_write_the_platform_leaves_it_alone(shop_store, sim):
    first_sync(shop_store, products={"delete_policy": "delete"})
    configure(shop_store, products={"delete_policy": "delete", "direction": "to_store"})
    delete_in_shop(sim, "products", GONE)
    # The platform is the source: what the shop deletes does not reach it.
    job = services.run_sync_now(shop_store, sync_type="full")
    assert job.status == "succeeded", job.message
    assert Product.objects.filter(store=shop_store, id_origin=GONE).exists()
    assert not SyncChange.objects.filter(job=job, action="delete").exists()


def test_an_incremental_sync_does_not_sweep(shop_store, sim):
    first_sync(shop_store, products={"delete_policy": "delete"})
    delete_in_shop(sim, "products", GONE)
    sim_post(sim, "reset_stats")

    job = services.run_sync_now(shop_store)

    assert job.status == "succeeded", job.message
    assert Product.objects.filter(store=shop_store, id_origin=GONE).exists()
    assert not any("display=[id]&sort=[id_ASC]" in line for line in sim_stats(sim)["recent"])


# The sweep


def test_the_sweep_reads_only_ids_by_keyset_and_finds_the_missing_ones(shop_store, sim):
    first_sync(shop_store, products={})
    for shop_id in (GONE, 8):  # one inside the pages, the last one after them
        delete_in_shop(sim, "products", shop_id)
    sim_post(sim, "reset_stats")

    with create_ecommerce_service(shop_store) as service:
        pages = list(gone_from_shop(ADAPTERS["products"], service, shop_store, page_size=3))

    assert sorted(s.shop_id for page in pages for s in page) == [GONE, 8]
    recent = sim_stats(sim)["recent"]
    assert recent and all(line.startswith("GET /api/products?") for line in recent), recent
    assert all("display=[id]" in line and "display=full" not in line for line in recent), recent
    assert sum("filter[id]=>[" in line for line in recent) == len(recent) - 1  # keyset after the first page
    assert all("sort=[id_ASC]" in line and "limit=0,3" in line for line in recent)
    assert sim_stats(sim).get("products_list_rows") == 6  # ids of the 6 products left, nothing else


def test_a_shop_that_lists_no_id_at_all_is_not_swept(shop_store, sim):
    first_sync(shop_store, customers={"delete_policy": "delete"})
    for shop_id in (1, 2, 3, 4):
        delete_in_shop(sim, "customers", shop_id)

    job = services.run_sync_now(shop_store, sync_type="full")

    assert job.status == "succeeded", job.message
    assert Customer.objects.filter(store=shop_store).count() == 4
    assert SyncRecordState.objects.filter(store=shop_store, entity_type="customers").count() == 4


def test_the_connector_lists_ids_in_pages(shop_store, sim):
    with create_ecommerce_service(shop_store) as service:
        assert list(service.iter_ids("products", page_size=3)) == [[1, 2, 3], [4, 5, 6], [7, 8]]
        assert list(service.iter_ids("customers", page_size=10)) == [[1, 2, 3, 4]]
        assert list(service.iter_ids("products", page_size=4, after_id=6)) == [[7, 8]]
        with pytest.raises(ValueError):
            list(service.iter_ids("invoices"))
        with pytest.raises(ValueError):
            service.delete("orders", 1)
        service.delete("products", 1)
        service.delete("products", 1)  # gone already: no error
    assert not shop_has(sim, "products", 1)


def test_a_daily_beat_task_queues_a_sweep_of_the_stores_that_propagate_deletes(shop_store, sim, make_store):
    task = PeriodicTask.objects.get(task="storesync.tasks.sweep_deletes")
    assert task.enabled and (task.interval.every, task.interval.period) == (1, "days")
    first_sync(shop_store, products={"delete_policy": "deactivate"}, customers={}, frequency="low")
    ignoring = make_store("ignoring", platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key)
    configure(ignoring, products={}, frequency="low")  # ignores deletes: not swept
    manual = make_store("manual", platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key)
    configure(manual, products={"delete_policy": "delete"})  # manual: never scheduled
    delete_in_shop(sim, "products", GONE)

    assert tasks.sweep_deletes_task() == {"queued": 1}

    job = StoreSyncJob.objects.get(status="queued")
    assert (job.store_id, job.sync_type, job.entities, job.trigger) == (
        shop_store.pk,
        "incremental",
        ["products"],
        "schedule",
    )
    assert job.options["sweep_deletes"] is True and job.priority == "low"
    StoreSyncRunner.execute(job.pk, "test")
    job.refresh_from_db()
    assert job.status == "succeeded", job.message
    assert platform_product(shop_store, GONE).status == "inactive"


# Deleted on the platform: tombstones


@pytest.mark.parametrize(
    ("policy", "outcome"),
    [("ignore", "ignored"), ("deactivate", "deactivated"), ("delete", "deleted")],
)
def test_a_platform_delete_under_each_policy(shop_store, sim, policy, outcome):
    first_sync(shop_store, products={"delete_policy": policy})
    product = platform_product(shop_store, GONE)
    pk, name = product.pk, product.name
    product.delete()
    [tombstone] = SyncTombstone.objects.all()
    assert (tombstone.record_pk, tombstone.shop_id, tombstone.processed_at) == (pk, GONE, None)
    assert tombstone.values["title"] == name and tombstone.values["status"] == "active"

    job = services.run_sync_now(shop_store)

    assert job.status == "succeeded", job.message
    tombstone.refresh_from_db()
    assert (tombstone.outcome, tombstone.job_id) == (outcome, job.pk) and tombstone.processed_at
    changes = list(SyncChange.objects.filter(job=job))
    if policy == "ignore":
        assert sim_get(sim, f"products/{GONE}")["active"] == "1"
        assert state(shop_store, "products", GONE) is not None and not changes
    elif policy == "deactivate":
        assert sim_get(sim, f"products/{GONE}")["active"] == "0"
        assert state(shop_store, "products", GONE) is not None  # not created again on the platform
        assert [(c.side, c.action, c.field, c.old_value, c.new_value) for c in changes] == [
            ("store", "update", "status", "active", "inactive")
        ]
    else:
        assert not shop_has(sim, "products", GONE)
        assert state(shop_store, "products", GONE) is None
        [change] = changes
        assert (change.side, change.action, change.field, change.record_pk, change.shop_id) == (
            "store",
            "delete",
            "*",
            pk,
            GONE,
        )
        assert change.old_value["title"] == name
    # Nothing comes back, nothing is done twice.
    again = services.run_sync_now(shop_store, sync_type="full")
    assert again.status == "succeeded", again.message
    assert not Product.objects.filter(store=shop_store, id_origin=GONE).exists()
    assert not SyncChange.objects.filter(job=again).exists()


def test_a_platform_customer_delete_deletes_the_shop_customer(shop_store, sim):
    first_sync(shop_store, customers={"delete_policy": "delete"})
    Customer.objects.filter(store=shop_store, id_origin=2).delete()  # a queryset delete leaves tombstones too
    assert SyncTombstone.objects.get().entity_type == "customers"

    job = services.run_sync_now(shop_store)

    assert job.status == "succeeded", job.message
    assert not shop_has(sim, "customers", 2) and shop_has(sim, "customers", 1)


def test_tombstones_only_for_linked_records_and_not_for_a_deleted_store(shop_store, sim):
    configure(shop_store, products={"delete_policy": "delete"})
    Product.objects.create(store=shop_store, name="Only here", sku="HERE-1")
    Product.objects.filter(sku="HERE-1").delete()  # never synced
    services.run_sync_now(shop_store, sync_type="full")
    assert state(shop_store, "products", 1) is not None  # linked now
    assert not SyncTombstone.objects.exists()
    shop_store.delete()  # its records go with it, and leave no tombstone
    assert not SyncTombstone.objects.exists()


def test_a_failed_shop_delete_keeps_the_tombstone_open_for_the_next_sync(shop_store, sim):
    first_sync(shop_store, products={"delete_policy": "delete"})
    platform_product(shop_store, GONE).delete()
    sim_post(sim, "config", {"fail_next": {"status": 400, "code": 85, "count": 1, "method": "DELETE"}})

    failed = services.run_sync_now(shop_store)

    assert failed.status == "partial", failed.message
    assert SyncTombstone.objects.get().processed_at is None
    assert shop_has(sim, "products", GONE)
    assert not SyncChange.objects.filter(job=failed).exists()
    healed = services.run_sync_now(shop_store)
    assert healed.status == "succeeded", healed.message
    assert SyncTombstone.objects.get().outcome == "deleted" and not shop_has(sim, "products", GONE)


def test_a_product_deactivated_after_it_went_from_both_sides_closes_its_tombstone(shop_store, sim):
    first_sync(shop_store, products={"delete_policy": "deactivate"})
    platform_product(shop_store, GONE).delete()
    delete_in_shop(sim, "products", GONE)

    job = services.run_sync_now(shop_store)

    assert job.status == "succeeded", job.message
    assert SyncTombstone.objects.get().outcome == "gone"
    assert state(shop_store, "products", GONE) is None and not SyncChange.objects.filter(job=job).exists()


def test_processed_tombstones_are_pruned_by_the_retention_policy_open_ones_never(shop_store, settings):
    settings.RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=40)
    processed = SyncTombstone.objects.create(store=shop_store, entity_type="products", record_pk=1, shop_id=1)
    SyncTombstone.objects.filter(pk=processed.pk).update(processed_at=old, deleted_at=old)
    waiting = SyncTombstone.objects.create(store=shop_store, entity_type="products", record_pk=2, shop_id=2)
    SyncTombstone.objects.filter(pk=waiting.pk).update(deleted_at=old)

    assert prune()["store sync tombstones (processed)"] == 1

    assert list(SyncTombstone.objects.values_list("pk", flat=True)) == [waiting.pk]


def run_in_mode(store, mode: str, **options) -> StoreSyncJob:
    job = services.trigger_sync(store, send=False, **options)
    StoreSyncJob.objects.filter(pk=job.pk).update(mode=mode)
    StoreSyncRunner.execute(job.pk, "inline")
    job.refresh_from_db()
    return job


def test_a_preview_records_the_planned_deletes_and_writes_nothing(shop_store, sim):
    first_sync(shop_store, products={"delete_policy": "delete"})
    delete_in_shop(sim, "products", GONE)
    platform_product(shop_store, 5).delete()

    preview = run_in_mode(shop_store, "preview", sync_type="full")

    assert preview.status == "succeeded", preview.message
    rows = SyncChange.objects.filter(job=preview, action="delete")
    assert {(r.side, r.shop_id, r.field) for r in rows} == {("platform", GONE, "*"), ("store", 5, "*")}
    assert Product.objects.filter(store=shop_store, id_origin=GONE).exists() and shop_has(sim, "products", 5)
    assert SyncTombstone.objects.get().processed_at is None
    assert state(shop_store, "products", GONE) is not None and state(shop_store, "products", 5) is not None
    # The real sync then does what the preview planned.
    job = services.run_sync_now(shop_store, sync_type="full")
    assert {(r.side, r.shop_id) for r in SyncChange.objects.filter(job=job, action="delete")} == {
        ("platform", GONE),
        ("store", 5),
    }
    assert not Product.objects.filter(store=shop_store, id_origin=GONE).exists() and not shop_has(sim, "products", 5)


@pytest.mark.parametrize("mode", ["apply", "undo"])
def test_apply_and_undo_jobs_run_no_delete_pass(shop_store, sim, mode):
    first_sync(shop_store, products={"delete_policy": "delete"})
    delete_in_shop(sim, "products", GONE)
    platform_product(shop_store, 5).delete()

    run_in_mode(shop_store, mode, sync_type="full")

    assert Product.objects.filter(store=shop_store, id_origin=GONE).exists() and shop_has(sim, "products", 5)
    assert SyncTombstone.objects.get().processed_at is None


def test_the_plan_counts_only_what_the_policy_and_direction_write(shop_store):
    configure(shop_store, products={"delete_policy": "ignore"})
    entity = SyncEntity.objects.get(entity_type="products")
    seen = [DeleteSeen("store", 1, 11, {}), DeleteSeen("platform", 2, 12, {})]
    assert plan_deletes(entity, seen) == []
    entity.delete_policy = "delete"
    assert [(p.side, p.action, p.shop_id) for p in plan_deletes(entity, seen)] == [
        ("platform", "delete", 11),
        ("store", "delete", 12),
    ]
    entity.direction = "to_platform"
    assert [p.side for p in plan_deletes(entity, seen)] == ["platform"]
    entity.direction = "to_store"
    assert [p.side for p in plan_deletes(entity, seen)] == ["store"]


# Configuration


def test_configure_accepts_and_returns_the_delete_policy(api, make_user, shop_store):
    client = api(make_user("operator", role=Role.OPERATOR, stores=[shop_store]))
    body = {
        "sync_frequency": "manual",
        "entities": [
            {"type": "products", "delete_policy": "deactivate"},
            {"type": "customers", "delete_policy": "delete"},
            {"type": "orders"},
        ],
    }
    response = client.post(f"/api/v1/stores/{shop_store.pk}/sync/configure", body, format="json")
    assert response.status_code == 200, response.content
    shown = client.get(f"/api/v1/stores/{shop_store.pk}/sync/configure").json()["data"]
    assert {e["type"]: e["delete_policy"] for e in shown["entities"]} == {
        "products": "deactivate",
        "customers": "delete",
        "orders": "ignore",
    }


@pytest.mark.parametrize(
    ("entity", "message"),
    [
        ({"type": "products", "delete_policy": "purge"}, "purge"),
        ({"type": "products", "delete_policy": 3}, "delete_policy"),
        ({"type": "products", "delete_policy": None}, "delete_policy"),
        ({"type": "products", "delete_policy": ["delete"]}, "delete_policy"),
        ({"type": "customers", "delete_policy": "deactivate"}, "no active flag"),
        ({"type": "orders", "direction": "to_platform", "delete_policy": "delete"}, "orders can only ignore"),
        ({"type": "orders", "direction": "to_platform", "delete_policy": "deactivate"}, "orders can only ignore"),
    ],
)
def test_configure_refuses_a_bad_delete_policy(api, make_user, shop_store, entity, message):
    client = api(make_user("operator", role=Role.OPERATOR, stores=[shop_store]))
    body = {"sync_frequency": "manual", "entities": [entity]}
    response = client.post(f"/api/v1/stores/{shop_store.pk}/sync/configure", body, format="json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["status"] == "error" and payload["code"] == "VALIDATION_ERROR"
    assert message in str(payload["detail"]), payload
    assert not SyncEntity.objects.exists()


def test_the_model_refuses_a_policy_its_entity_cannot_take(shop_store):
    configure(shop_store, customers={})
    entity = SyncEntity.objects.get()
    entity.delete_policy = "deactivate"
    with pytest.raises(ValidationError, match="no active flag"):
        entity.full_clean(exclude=["config"])


def test_an_edit_after_a_platform_delete_is_not_lost(shop_store, sim):
    """A product edited on the platform, then deleted: the tombstone carries its last values."""
    first_sync(shop_store, products={"delete_policy": "delete"})
    product = edit_platform(platform_product(shop_store, GONE), name="Renamed before deletion")
    product.delete()
    assert SyncTombstone.objects.get().values["title"] == "Renamed before deletion"


def test_the_admin_edits_the_delete_policy_of_each_entity(console, shop_store):
    configure(shop_store, products={}, customers={})
    page = console.get(f"/admin/storesync/syncconfig/{shop_store.sync_config.pk}/change/").content.decode()
    assert 'name="entities-0-delete_policy"' in page and 'value="deactivate"' in page
    products, customers = SyncEntity.objects.order_by("position")

    form = EntityForm(data={**model_to_dict(products), "delete_policy": "deactivate"}, instance=products)
    assert form.is_valid(), form.errors
    form.save()
    assert SyncEntity.objects.get(pk=products.pk).delete_policy == "deactivate"
    refused = EntityForm(data={**model_to_dict(customers), "delete_policy": "deactivate"}, instance=customers)
    assert not refused.is_valid() and "no active flag" in str(refused.errors["delete_policy"])


def test_the_admin_lists_tombstones_read_only(console, shop_store, sim):
    first_sync(shop_store, products={"delete_policy": "delete"})
    platform_product(shop_store, GONE).delete()
    tombstone = SyncTombstone.objects.get()

    page = console.get("/admin/storesync/synctombstone/").content.decode()
    assert f">{tombstone.pk}<" in page and str(GONE) in page
    detail = console.get(f"/admin/storesync/synctombstone/{tombstone.pk}/change/")
    assert detail.status_code == 200 and "title" in detail.content.decode()
    assert console.post(f"/admin/storesync/synctombstone/{tombstone.pk}/change/", {}).status_code == 403


# An undo of a delete makes the record again with its last synced values


def test_an_undo_makes_a_platform_record_the_sync_deleted_again_linked_to_its_shop_id(shop_store, sim):
    first_sync(shop_store, products={"delete_policy": "delete"})
    product = platform_product(shop_store, GONE)
    name, sku, price = product.name, product.sku, product.price
    delete_in_shop(sim, "products", GONE)
    deleting = services.run_sync_now(shop_store, sync_type="full")
    assert not Product.objects.filter(store=shop_store, id_origin=GONE).exists()

    undo = services.run_undo_now(deleting)

    assert undo.status == "succeeded", undo.errors
    assert undo.counters["recreated"] == 1
    again = platform_product(shop_store, GONE)
    assert (again.name, again.sku, again.price) == (name, sku, price)
    assert state(shop_store, "products", GONE).record_pk == again.pk
    assert {c.side for c in SyncChange.objects.filter(job=undo, action="create")} == {"platform"}


def test_an_undo_makes_a_shop_record_the_sync_deleted_again_and_the_next_sync_leaves_the_platform_alone(
    shop_store, sim
):
    first_sync(shop_store, products={"delete_policy": "delete"})
    product = platform_product(shop_store, GONE)
    pk, name, sku = product.pk, product.name, product.sku
    product.delete()
    deleting = services.run_sync_now(shop_store)
    assert not shop_has(sim, "products", GONE)

    undo = services.run_undo_now(deleting)

    assert undo.status == "succeeded", undo.errors
    assert undo.counters["recreated"] == 1
    shop = create_ecommerce_service(shop_store)
    [made] = [p for p in shop.iter_products(since=None) if p.reference == sku]
    assert made.name == name and made.id != GONE
    assert state(shop_store, "products", made.id).record_pk == pk  # the platform record stays deleted
    after = services.run_sync_now(shop_store, sync_type="full")
    assert after.status == "succeeded", after.errors
    assert not Product.objects.filter(store=shop_store, sku=sku).exists()
    assert shop_has(sim, "products", made.id)


def test_an_undo_reports_a_platform_record_it_cannot_make_again(shop_store, sim):
    first_sync(shop_store, products={"delete_policy": "delete"})
    platform_product(shop_store, GONE)
    delete_in_shop(sim, "products", GONE)
    deleting = services.run_sync_now(shop_store, sync_type="full")
    Product.objects.create(store=shop_store, name="Took its place", sku="NEW-1", price="1.00", id_origin=GONE)

    undo = services.run_undo_now(deleting)

    assert undo.status == "partial"
    assert undo.counters.get("recreated", 0) == 0
    assert [e["code"] for e in undo.errors] == ["MOVED_SINCE"]
