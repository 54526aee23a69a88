"""The change history: every field a sync writes is recorded with the value it replaced, and
``GET /api/v1/sync/jobs/{job_id}/changes`` pages and filters a job's rows."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Order, Product
from catalog.roles import Role
from config import retention
from config.jobs import JobStatus, start_job
from operations.retention import prune
from storesync import services
from storesync.engine import sync as engine
from storesync.models import StoreSyncJob, SyncChange
from tests.plugins.simulator import sim_get, sim_post
from tests.storesync.conftest import configure, edit_platform, platform_product
from tests.storesync.test_api import error

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_clock_skew(settings):
    settings.STORESYNC_CLOCK_SKEW = 0


def first_sync(store):
    configure(store, products={}, customers=None)
    job = services.run_sync_now(store, sync_type="full")
    assert job.status == "succeeded", job.message
    return job


def both_sides_changed(store, sim):
    """Product 2 edited on the platform (price), product 5 in the shop (title): one sync writes both."""
    first_sync(store)
    old_shop_price = sim_get(sim, "products/2")["price"]
    old_title = platform_product(store, 5).name
    edit_platform(platform_product(store, 2), price="77.770000")
    sim_post(sim, "mutate", {"products": [5], "fields": {"name": "Renamed in the shop"}})
    job = services.run_sync_now(store)
    assert job.status == "succeeded", job.errors
    return job, old_shop_price, old_title


def rows(job, **filters):
    return list(SyncChange.objects.filter(job=job, **filters).order_by("id"))


def test_a_syncs_writes_on_both_sides_are_recorded_with_old_and_new_values(shop_store, sim):
    job, old_shop_price, old_title = both_sides_changed(shop_store, sim)

    [to_shop] = rows(job, side="store")
    assert (to_shop.entity_type, to_shop.record_pk, to_shop.shop_id, to_shop.field, to_shop.action) == (
        "products",
        platform_product(shop_store, 2).pk,
        2,
        "price",
        "update",
    )
    assert Decimal(to_shop.old_value) == Decimal(old_shop_price) and to_shop.new_value == "77.770000"
    [to_platform] = rows(job, side="platform")
    assert (to_platform.shop_id, to_platform.field) == (5, "title")
    assert (to_platform.old_value, to_platform.new_value) == (old_title, "Renamed in the shop")
    assert to_platform.store_id == shop_store.pk


def test_creates_on_both_sides_are_recorded(shop_store, sim):
    first = first_sync(shop_store)
    created = rows(first, side="platform", action="create")
    assert sorted(row.shop_id for row in created) == list(range(1, 9))  # one row per record
    assert all(row.record_pk is not None and row.old_value is None and row.field == "*" for row in created)
    third = next(row for row in created if row.shop_id == 3)
    assert set(third.new_value) == {"title", "description", "price", "inventory", "sku", "status"}
    assert third.new_value["title"] == platform_product(shop_store, 3).name

    new = Product.objects.create(store=shop_store, name="Made on the platform", sku="HUB-1", price="9.90")
    job = services.run_sync_now(shop_store)
    new.refresh_from_db()
    [made] = rows(job, side="store", action="create")
    assert (made.record_pk, made.shop_id, made.field) == (new.pk, new.id_origin, "*")
    assert set(made.new_value) >= {"title", "sku", "price"} and made.new_value["sku"] == "HUB-1"


def test_a_record_whose_shop_write_failed_records_nothing(shop_store, sim):
    first_sync(shop_store)
    edit_platform(platform_product(shop_store, 6), price="12.340000")
    sim_post(sim, "config", {"fail_next": {"status": 400, "code": 85, "count": 1, "method": "PATCH"}})
    job = services.run_sync_now(shop_store)
    assert job.status == "partial"
    assert rows(job) == []


def test_a_redelivered_batch_records_no_duplicate_rows(shop_store, sim, settings, monkeypatch):
    """The worker dies after the first batch committed: the redelivered job resumes after it and
    the rows of that batch are not written again."""
    settings.STORESYNC_PAGE_SIZE = settings.STORESYNC_BATCH_SIZE = 3
    first_sync(shop_store)
    for shop_id in range(1, 9):
        sim_post(sim, "mutate", {"products": [shop_id], "fields": {"price": f"{shop_id}1.000000"}})
    original, batches = engine.EntitySync.store_batch, []

    def store_batch(self, remotes, checkpoint):
        if len(batches) == 1:
            raise SystemExit("worker lost")  # after the first batch's commit
        batches.append(len(remotes))
        return original(self, remotes, checkpoint)

    monkeypatch.setattr(engine.EntitySync, "store_batch", store_batch)
    job = services.trigger_sync(shop_store, send=False)
    with pytest.raises(SystemExit):
        services.StoreSyncRunner.execute(job.pk, "inline")
    assert SyncChange.objects.filter(job=job).count() == 3
    monkeypatch.setattr(engine.EntitySync, "store_batch", original)
    services.StoreSyncRunner.execute(job.pk, "inline")
    job.refresh_from_db()

    assert job.status == "succeeded", (job.status, job.message)
    written = rows(job)
    assert len(written) == 8
    assert len({(row.shop_id, row.field, row.side) for row in written}) == 8


def test_retention_prunes_old_rows_never_those_of_a_live_job(shop_store, sim, settings):
    job, _, _ = both_sides_changed(shop_store, sim)
    live = services.trigger_sync(shop_store, send=False)
    SyncChange.objects.create(
        store=shop_store, job=live, entity_type="products", record_pk=1, field="price", side="store"
    )
    [rule] = [r for r in retention.rules() if r.label == "store sync change history"]

    assert rule.select(timezone.now() - timedelta(days=1)).count() == 0
    later = timezone.now() + timedelta(days=1)
    for status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.HELD):
        StoreSyncJob.objects.filter(pk=live.pk).update(status=status)
        assert live.pk not in set(rule.select(later).values_list("job_id", flat=True))
        assert rule.select(later).filter(job=job).count() == 2
    StoreSyncJob.objects.filter(pk=live.pk).update(status=JobStatus.SUCCEEDED)
    everything = SyncChange.objects.count()
    assert rule.select(later).count() == everything

    pruned = prune(now=later + timedelta(days=settings.RETENTION_DAYS))
    assert pruned["store sync change history"] == everything and not SyncChange.objects.exists()


# The endpoint


@pytest.fixture
def operator(make_user, shop_store):
    return make_user("operator", role=Role.OPERATOR, stores=[shop_store])


@pytest.fixture
def client(api, operator):  # an API client: the Django test client is not used in this module
    return api(operator)


def changes(client, job, query: str = ""):
    return client.get(f"/api/v1/sync/jobs/{job.pk}/changes{query}")


def test_the_changes_endpoint_pages_and_filters(client, shop_store, sim):
    job, _, _ = both_sides_changed(shop_store, sim)

    everything = changes(client, job)
    assert everything.status_code == 200, everything.content
    body = everything.json()
    assert body["pagination"] == {"page": 1, "limit": 50, "total": 2}
    first = body["data"][0]
    assert set(first) == {
        "id",
        "entity",
        "record_pk",
        "shop_id",
        "field",
        "side",
        "action",
        "old_value",
        "new_value",
        "settled_by",
        "created_at",
    }
    assert [row["side"] for row in body["data"]] == ["store", "platform"]

    page_two = changes(client, job, "?limit=1&page=2").json()
    assert page_two["pagination"]["total"] == 2 and [r["field"] for r in page_two["data"]] == ["title"]
    assert [r["shop_id"] for r in changes(client, job, "?side=store").json()["data"]] == [2]
    assert [r["shop_id"] for r in changes(client, job, "?field=title").json()["data"]] == [5]
    record = platform_product(shop_store, 2).pk
    assert [r["field"] for r in changes(client, job, f"?record={record}&entity=products").json()["data"]] == ["price"]
    assert changes(client, job, "?entity=customers").json()["data"] == []


@pytest.mark.parametrize(
    "query",
    [
        "?entity=invoices",
        "?record=abc",
        "?record=0",
        "?record=99999999999999999999",
        "?field=internal_notes",
        "?side=both",
        "?entity=",
        "?page=0",
        "?limit=5000",
    ],
)
def test_the_changes_endpoint_refuses_bad_filters(client, shop_store, query):
    configure(shop_store, products={})
    job = start_job(StoreSyncJob, kind="store_sync", store=shop_store)
    error(changes(client, job, query), 400, "VALIDATION_ERROR")


def test_other_stores_jobs_and_unknown_jobs_are_not_found(client, make_store, shop_store):
    other = make_store("elsewhere")
    configure(other, products={})
    foreign = start_job(StoreSyncJob, kind="store_sync", store=other)
    for ref in (foreign.pk, uuid.uuid4(), "not-a-uuid", "1"):
        error(client.get(f"/api/v1/sync/jobs/{ref}/changes"), 404, "NOT_FOUND")
        error(client.post(f"/api/v1/sync/jobs/{ref}/undo"), 404, "NOT_FOUND")


def test_the_changes_endpoint_needs_a_login(api, shop_store):
    configure(shop_store, products={})
    job = start_job(StoreSyncJob, kind="store_sync", store=shop_store)
    assert changes(api(None), job).status_code == 401


def test_values_of_every_json_shape_are_recorded_as_written(shop_store, sim):
    """The rows go through COPY: objects, numbers, text with tabs, newlines and backslashes."""
    configure(shop_store, products={}, customers={}, orders={})
    job = services.run_sync_now(shop_store, sync_type="full")
    order = Order.objects.filter(store=shop_store).exclude(customer_info={}).first()
    created = SyncChange.objects.get(job=job, entity_type="orders", record_pk=order.pk, field="*")
    info = created.new_value["customer_info"]
    assert isinstance(info, dict) and info == order.customer_info
    product = SyncChange.objects.get(job=job, entity_type="products", shop_id=3, field="*")
    assert product.new_value["inventory"] == platform_product(shop_store, 3).inventory

    before = platform_product(shop_store, 4).name
    edit_platform(platform_product(shop_store, 4), name='Tab\there, "quoted"\nline \\ two')
    again = services.run_sync_now(shop_store)
    [title] = rows(again, field="title")
    assert (title.old_value, title.new_value) == (before, 'Tab\there, "quoted"\nline \\ two')
