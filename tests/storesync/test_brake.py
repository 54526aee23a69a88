"""The mass-change brake: a sync whose plan overwrites more records than an entity allows stops
before its first write (``held``, the plan attached, an alert and a ``sync.held`` webhook), until
an operator approves or rejects it; with the API's endpoints and their bad inputs."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from catalog.models import Product
from catalog.roles import Role
from storesync import services
from storesync.admin import EntityForm
from storesync.health.models import Alert
from storesync.models import StoreSyncJob, SyncChange, SyncConflict, SyncEntity
from storesync.webhooks.models import WebhookDelivery
from tests.plugins.simulator import sim_get, sim_post, sim_stats
from tests.storesync.conftest import configure, platform_product

pytestmark = pytest.mark.django_db

WRITES = ("product_write", "product_patch", "product_put", "product_post")
NEW_PRICES = {1: "101.000000", 2: "102.000000", 3: "103.000000"}  # 3 of 10 products: 30%


@pytest.fixture
def sim(make_shop_simulator):
    return make_shop_simulator(products=10, customers=2, orders=2)


@pytest.fixture
def operator(make_user, shop_store):
    return make_user("operator", role=Role.OPERATOR, stores=[shop_store])


@pytest.fixture
def client(api, operator):
    return api(operator)


def braked(store, **products):
    configure(store, products={"max_changes_percent": 25, **products})
    first = services.run_sync_now(store, sync_type="full")
    assert first.status == "succeeded", first.message


def overwrite_prices(sim) -> None:
    for shop_id, price in NEW_PRICES.items():
        sim_post(sim, "mutate", {"products": [shop_id], "fields": {"price": price}})


def writes(sim) -> dict:
    stats = sim_stats(sim)
    return {name: stats.get(name, 0) for name in WRITES}


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error" and body["code"] == code, body
    return body


def held_job(store, sim) -> StoreSyncJob:
    braked(store)
    overwrite_prices(sim)
    sim_post(sim, "reset_stats")
    job = services.run_sync_now(store)
    assert job.status == "held", (job.message, job.errors)
    return job


def test_a_30_percent_price_overwrite_is_held_then_approved_and_applied(
    shop_store, sim, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = held_job(shop_store, sim)

    assert writes(sim) == dict.fromkeys(WRITES, 0)  # stopped before its first write
    assert not any(platform_product(shop_store, i).price == Decimal(p) for i, p in NEW_PRICES.items())
    assert job.message == "Held by the mass-change brake: products: 3 overwrites or deletes planned, the limit is 2."
    assert job.result["preview"]["products"]["overwrites"] == 3
    planned = set(SyncChange.objects.filter(job=job).values_list("shop_id", "field", "side", "new_value"))
    assert planned == {(i, "price", "platform", price) for i, price in NEW_PRICES.items()}
    assert SyncEntity.objects.get(entity_type="products").last_status == "synced"  # the full sync's
    [alert] = Alert.objects.filter(store=shop_store, status="open")
    assert alert.rule.key == "held_jobs" and alert.value == 1
    shown = client.get(f"/api/v1/sync/jobs/{job.pk}").json()["data"]
    assert shown["status"] == "held" and shown["preview"]["products"]["overwrites"] == 3

    approved = client.post(f"/api/v1/sync/jobs/{job.pk}/approve")

    assert approved.status_code == 202, approved.content
    assert approved.json()["data"]["status"] == "queued"
    assert not SyncChange.objects.filter(job=job).exists()  # the plan is dropped; the run records its own
    job = services.run_inline(job)
    assert job.status == "succeeded", (job.message, job.errors)
    written = set(SyncChange.objects.filter(job=job).values_list("shop_id", "field", "side", "new_value"))
    assert written == planned  # the history of what it did, as planned
    assert {i: str(platform_product(shop_store, i).price) for i in NEW_PRICES} == {
        i: str(Decimal(p)) for i, p in NEW_PRICES.items()
    }
    assert job.entity_results["products"]["records_updated"] == 3
    error(client.post(f"/api/v1/sync/jobs/{job.pk}/approve"), 409, "DATA_CONFLICT")  # not held any more


def test_a_held_job_rejected_writes_nothing(shop_store, sim, client, operator):
    job = held_job(shop_store, sim)
    conflicts = SyncConflict.objects.count()
    watermarks = list(SyncEntity.objects.values_list("store_watermark", "platform_watermark"))

    rejected = client.post(f"/api/v1/sync/jobs/{job.pk}/reject")

    assert rejected.status_code == 200, rejected.content
    data = rejected.json()["data"]
    assert data["status"] == "cancelled" and data["message"] == "Rejected by operator."
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert writes(sim) == dict.fromkeys(WRITES, 0)
    assert platform_product(shop_store, 1).price != Decimal("101")
    assert SyncConflict.objects.count() == conflicts
    assert list(SyncEntity.objects.values_list("store_watermark", "platform_watermark")) == watermarks
    error(client.post(f"/api/v1/sync/jobs/{job.pk}/reject"), 409, "DATA_CONFLICT")
    error(client.post(f"/api/v1/sync/jobs/{job.pk}/approve"), 409, "DATA_CONFLICT")


def test_a_held_job_blocks_neither_its_store_nor_another(shop_store, sim, make_shop_simulator, make_store):
    held_job(shop_store, sim)
    other_sim = make_shop_simulator(products=4)
    other = make_store(platform="prestashop", platform_url=other_sim.url, platform_api_key=other_sim.api_key)
    configure(other, products={})
    assert services.run_sync_now(other, sync_type="full").status == "succeeded"
    sim_post(sim, "mutate", {"products": [4], "fields": {"price": "104.000000"}})
    # The same store's next job runs (and is held too: the three overwrites are still planned).
    assert services.run_sync_now(shop_store).status == "held"
    services.trigger_sync(shop_store, send=False)  # queued behind nothing: held jobs are not active
    assert StoreSyncJob.objects.filter(store=shop_store, status="running").count() == 0


def test_a_small_incremental_sync_is_not_planned_first(shop_store, sim):
    braked(shop_store)
    sim_post(sim, "mutate", {"products": [1], "fields": {"price": "101.000000"}})
    sim_post(sim, "reset_stats")

    job = services.run_sync_now(shop_store)

    assert job.status == "succeeded" and "planned" not in job.options
    assert list(SyncChange.objects.filter(job=job).values_list("shop_id", "field", "side")) == [
        (1, "price", "platform")
    ]
    assert sim_stats(sim)["products_list"] == 2  # the id-only count, then the changes: no second read
    assert platform_product(shop_store, 1).price == Decimal("101")


def test_a_plan_within_the_limits_runs_once_for_real(shop_store, sim):
    braked(shop_store, max_changes=500)
    sim_post(sim, "mutate", {"products": [1], "fields": {"price": "101.000000"}})
    sim_post(sim, "mutate", {"products": [2], "fields": {"price": "102.000000"}})
    job = services.run_sync_now(shop_store, sync_type="full")
    assert job.status == "succeeded", job.errors
    assert job.entity_results["products"]["records_synced"] == 10  # counted once, not twice
    assert job.entity_results["products"]["records_updated"] == 2
    # Its history only (the plan's rows dropped): one price on the platform per record.
    assert sorted(SyncChange.objects.filter(job=job).values_list("shop_id", "field")) == [(1, "price"), (2, "price")]
    assert sim_get(sim, "products/1")["price"] == "101.000000"


def test_the_count_limit_applies_when_lower(shop_store, sim):
    braked(shop_store, max_changes=2, max_changes_percent=100)
    overwrite_prices(sim)
    assert services.run_sync_now(shop_store).status == "held"


def test_the_limits_are_configured_and_shown_by_the_api(client, shop_store):
    body = {
        "sync_frequency": "manual",
        "entities": [{"type": "products", "max_changes": 40, "max_changes_percent": 10}, {"type": "customers"}],
    }
    assert client.post(f"/api/v1/stores/{shop_store.pk}/sync/configure", body, format="json").status_code == 200
    products, customers = client.get(f"/api/v1/stores/{shop_store.pk}/sync/configure").json()["data"]["entities"]
    assert (products["max_changes"], products["max_changes_percent"]) == (40, 10)
    assert (customers["max_changes"], customers["max_changes_percent"]) == (500, 25)


@pytest.mark.parametrize(
    "limits",
    [
        {"max_changes": -1},
        {"max_changes": "many"},
        {"max_changes": 1.5},
        {"max_changes": None},
        {"max_changes_percent": 101},
        {"max_changes_percent": -5},
        {"max_changes_percent": "half"},
        {"max_changes_percent": [25]},
    ],
)
def test_bad_limits_are_refused(client, shop_store, limits):
    body = {"sync_frequency": "manual", "entities": [{"type": "products", **limits}]}
    payload = error(
        client.post(f"/api/v1/stores/{shop_store.pk}/sync/configure", body, format="json"), 400, "VALIDATION_ERROR"
    )
    assert "entities" in payload["detail"]


def test_job_actions_refuse_unknown_foreign_and_unheld_jobs(client, api, make_user, shop_store, make_store):
    configure(shop_store, products={})
    other = make_store("elsewhere")
    configure(other, products={})
    foreign = StoreSyncJob.objects.create(store=other, kind="store_sync", status="held")
    mine = services.trigger_sync(shop_store, send=False)
    for action in ("approve", "reject", "apply"):
        for ref in (foreign.pk, uuid.uuid4(), "not-a-uuid", "1"):
            error(client.post(f"/api/v1/sync/jobs/{ref}/{action}"), 404, "NOT_FOUND")
        error(client.post(f"/api/v1/sync/jobs/{mine.pk}/{action}"), 409, "DATA_CONFLICT")  # queued
        viewer = api(make_user(f"viewer-{action}", role=Role.VIEWER, stores=[shop_store]))
        error(viewer.post(f"/api/v1/sync/jobs/{mine.pk}/{action}"), 403, "PERMISSION_DENIED")
        error(api(None).post(f"/api/v1/sync/jobs/{mine.pk}/{action}"), 401, "NOT_AUTHENTICATED")


def test_a_held_job_sends_a_sync_held_webhook(shop_store, sim, receiver, django_capture_on_commit_callbacks):
    configure(
        shop_store,
        products={"max_changes_percent": 25},
        webhook_config={"endpoint": receiver.url, "secret": "webhook_secret_123"},
    )
    assert services.run_sync_now(shop_store, sync_type="full").status == "succeeded"
    overwrite_prices(sim)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.run_sync_now(shop_store)
    assert job.status == "held"
    delivery = WebhookDelivery.objects.get(event_type="sync.held")
    assert delivery.payload["data"]["sync_id"] == str(job.pk)
    assert delivery.payload["data"]["preview"]["products"]["overwrites"] == 3


def test_the_reaper_leaves_held_jobs_alone(shop_store, sim, settings):
    job = held_job(shop_store, sim)
    settings.JOB_STALE_AFTER = 0
    from storesync.runner import StoreSyncRunner

    StoreSyncRunner.reap()
    services.dispatch_due_syncs()
    job.refresh_from_db()
    assert job.status == "held"


def test_the_admin_shows_a_held_plan_and_approves_or_rejects_it(console, shop_store, sim):
    job = held_job(shop_store, sim)
    page = console.get(f"/admin/storesync/storesyncjob/{job.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Planned changes" in html and "101.000000" in html and "overwrites" in html
    assert "approve_held" in html and "reject_held" in html
    dashboard = console.get("/admin/").content.decode()
    assert "Held sync jobs" in dashboard

    console.post(f"/admin/storesync/storesyncjob/{job.pk}/approve_held/", {"_form_submitted": "1"})
    job.refresh_from_db()
    assert job.status == "queued" and job.options["approved"] is True

    assert services.run_inline(job).status == "succeeded"
    for shop_id in (4, 5, 6):
        sim_post(sim, "mutate", {"products": [shop_id], "fields": {"price": "99.000000"}})
    again = services.run_sync_now(shop_store)
    assert again.status == "held"
    console.post(f"/admin/storesync/storesyncjob/{again.pk}/reject_held/", {"_form_submitted": "1"})
    again.refresh_from_db()
    assert again.status == "cancelled" and again.message.startswith("Rejected by")
    response = console.post(f"/admin/storesync/storesyncjob/{again.pk}/approve_held/", {"_form_submitted": "1"})
    assert response.status_code == 403  # not offered: it is not held any more
    page = console.get(f"/admin/storesync/storesyncjob/{again.pk}/change/").content.decode()
    assert "approve_held" not in page and "reject_held" not in page and "apply_preview" not in page
    again.refresh_from_db()
    assert again.status == "cancelled"


def test_the_admin_configures_the_limits(console, shop_store):
    configure(shop_store, products={})
    page = console.get(f"/admin/storesync/syncconfig/{shop_store.sync_config.pk}/change/").content.decode()
    assert 'name="entities-0-max_changes_percent"' in page and 'name="entities-0-max_changes"' in page

    products = shop_store.sync_config.entities.get(entity_type="products")
    data = {
        "config": shop_store.sync_config.pk,
        "entity_type": "products",
        "enabled": "on",
        "direction": "bidirectional",
        "conflict_resolution": "last_write_wins",
        "fields": ["price"],
        "position": 0,
        "max_changes": 40,
        "max_changes_percent": 101,
        "delete_policy": "ignore",
    }
    form = EntityForm(data=data, instance=products)
    assert not form.is_valid() and list(form.errors) == ["max_changes_percent"]
    form = EntityForm(data={**data, "max_changes": -1, "max_changes_percent": 10}, instance=products)
    assert not form.is_valid() and list(form.errors) == ["max_changes"]
    form = EntityForm(data={**data, "max_changes_percent": 10}, instance=products)
    assert form.is_valid(), form.errors
    form.save()
    products.refresh_from_db()
    assert (products.max_changes, products.max_changes_percent) == (40, 10)


@pytest.mark.parametrize("side", ["platform", "shop"])
def test_mass_deletes_are_held_before_the_first_delete(shop_store, sim, side):
    """Three of ten products deleted on one side under ``delete_policy`` delete: the next sync
    (incremental, with the platform's tombstones; or the daily sweep of the shop's ids) is held
    before it deletes anything on the other side; rejected, nothing is deleted."""
    braked(shop_store, delete_policy="delete")
    before = {shop_id: sim_get(sim, f"products/{shop_id}")["active"] for shop_id in (1, 2, 3)}
    if side == "platform":
        Product.objects.filter(store=shop_store, id_origin__in=[1, 2, 3]).delete()
        job = services.run_sync_now(shop_store)
    else:
        for shop_id in (1, 2, 3):
            sim_post(sim, f"products/{shop_id}/delete")
        job = services.run_sync_now(shop_store, options={"sweep_deletes": True})

    assert job.status == "held", (job.message, job.errors)
    assert "3 overwrites or deletes planned" in job.message
    if side == "platform":
        assert {shop_id: sim_get(sim, f"products/{shop_id}")["active"] for shop_id in (1, 2, 3)} == before
    else:
        assert Product.objects.filter(store=shop_store, id_origin__in=[1, 2, 3]).count() == 3
    services.reject_job(job)
    if side == "shop":
        assert Product.objects.filter(store=shop_store, id_origin__in=[1, 2, 3]).count() == 3


def test_a_held_job_makes_its_store_need_attention_until_decided(shop_store, sim, client, operator):
    job = held_job(shop_store, sim)
    status = client.get(f"/api/v1/stores/{shop_store.pk}/sync/status").json()["data"]
    assert status["overall_status"] == "needs_attention"
    assert status["awaiting_human"] == {"conflicts": 0, "dead_letters": 0, "held_jobs": 1}

    services.reject_job(job, user=operator)
    status = client.get(f"/api/v1/stores/{shop_store.pk}/sync/status").json()["data"]
    assert status["awaiting_human"]["held_jobs"] == 0
