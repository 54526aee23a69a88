"""Preview (a dry run: the plan recorded as change rows, nothing written) and apply (the
preview's records, where the planned change still holds), against the simulator over HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Product
from storesync import services
from storesync.models import DeadLetter, StoreSyncJob, SyncChange, SyncConflict, SyncEntity, SyncRecordState
from tests.plugins.simulator import sim_get, sim_post, sim_stats
from tests.storesync.conftest import configure, edit_platform, platform_product

pytestmark = pytest.mark.django_db

WRITES = ("product_write", "product_patch", "product_put", "product_post")


@pytest.fixture(autouse=True)
def _no_clock_skew(settings):
    settings.STORESYNC_CLOCK_SKEW = 0


def first_sync(store):
    configure(store, products={})
    job = services.run_sync_now(store, sync_type="full")
    assert job.status == "succeeded", job.message


def changes(store, sim):
    """Two shop price edits, one platform price edit, one conflict, one platform-only product."""
    sim_post(sim, "mutate", {"products": [1], "fields": {"price": "11.000000"}})
    sim_post(sim, "mutate", {"products": [2], "fields": {"price": "22.000000"}})
    edit_platform(platform_product(store, 3), price="33.000000")
    sim_post(sim, "mutate", {"products": [4], "fields": {"price": "44.000000"}})
    edit_platform(platform_product(store, 4), price="45.000000")  # later: last write wins, the platform
    Product.objects.create(store=store, name="Hub only", sku="HUB-ONLY-1", price=Decimal("9.5"), inventory=3)


def snapshot(store, sim) -> dict:
    return {
        "platform": sorted(Product.objects.filter(store=store).values_list("pk", "id_origin", "price", "updated_at")),
        "shop": {i: sim_get(sim, f"products/{i}")["price"] for i in range(1, 9)},
        "conflicts": list(SyncConflict.objects.values_list("pk", "status")),
        "states": sorted(SyncRecordState.objects.values_list("shop_id", "base", "store_modified", "platform_modified")),
        "letters": DeadLetter.objects.count(),
        "entities": list(
            SyncEntity.objects.values_list(
                "store_watermark", "platform_watermark", "last_sync_at", "last_full_sync_at", "last_status"
            )
        ),
    }


def plan(job) -> set[tuple]:
    """The job's rows; a whole record's values (a create's ``new_value``) as sorted pairs."""
    rows = SyncChange.objects.filter(job=job).values_list(
        "record_pk", "shop_id", "field", "side", "action", "new_value"
    )
    return {(*row[:5], tuple(sorted(row[5].items())) if isinstance(row[5], dict) else row[5]) for row in rows}


def writes(sim) -> dict:
    stats = sim_stats(sim)
    return {name: stats.get(name, 0) for name in WRITES}


@pytest.mark.parametrize("sync_type", ["incremental", "full"])
def test_a_preview_writes_nothing_and_plans_what_the_sync_then_does(shop_store, sim, sync_type):
    first_sync(shop_store)
    changes(shop_store, sim)
    before = snapshot(shop_store, sim)
    sim_post(sim, "reset_stats")

    preview = services.run_sync_now(shop_store, sync_type=sync_type, mode="preview")

    assert preview.status == "succeeded", (preview.message, preview.errors)
    assert writes(sim) == dict.fromkeys(WRITES, 0)
    assert snapshot(shop_store, sim) == before
    p1, p2, p3, p4 = (platform_product(shop_store, i) for i in (1, 2, 3, 4))
    hub_only = Product.objects.get(store=shop_store, sku="HUB-ONLY-1")
    rows = plan(preview)
    assert {
        (p1.pk, 1, "price", "platform", "update", "11.000000"),
        (p2.pk, 2, "price", "platform", "update", "22.000000"),
        (p3.pk, 3, "price", "store", "update", "33.000000"),
        (p4.pk, 4, "price", "store", "update", "45.000000"),
    } <= rows
    [create] = SyncChange.objects.filter(job=preview, action="create")
    assert (create.record_pk, create.shop_id, create.field, create.side) == (hub_only.pk, None, "*", "store")
    assert create.new_value["sku"] == "HUB-ONLY-1" and create.old_value is None
    [conflict] = SyncChange.objects.filter(job=preview, action="conflict")
    assert (conflict.record_pk, conflict.field, conflict.side) == (p4.pk, "price", "store")
    assert (conflict.old_value, conflict.new_value, conflict.settled_by) == (
        "44.000000",
        "45.000000",
        "strategy:last_write_wins",
    )
    assert preview.result["preview"]["products"] == {
        "create": 1,
        "update": 4,
        "delete": 0,
        "conflict": 1,
        "records": 5,
        "overwrites": 4,
    }

    direct = services.run_sync_now(shop_store, sync_type=sync_type)

    assert direct.status == "succeeded", direct.errors
    for record_pk, shop_id, field, side, action, value in rows:
        if action != "update":
            continue
        if side == "store":
            assert sim_get(sim, f"products/{shop_id}")[field] == value
        else:
            assert str(getattr(Product.objects.get(pk=record_pk), field)) == str(Decimal(value))
    hub_only.refresh_from_db()
    assert hub_only.id_origin is not None  # the planned create happened
    assert services.run_sync_now(shop_store, mode="preview").result["preview"] == {}


def test_a_preview_of_a_store_owing_a_change_plans_it_and_leaves_its_letter_alone(shop_store, sim):
    """Found by the property model: the owed record a preview reads and cannot settle (it writes
    nothing) made the preview partial ("still owed") and touched the letter."""
    first_sync(shop_store)
    edit_platform(platform_product(shop_store, 1), price="77.770000")
    sim_post(sim, "config", {"fail_next": {"status": 400, "code": 85, "count": 1, "method": "PATCH"}})
    assert services.run_sync_now(shop_store).status == "partial"
    [letter] = DeadLetter.objects.values_list("pk", "status", "attempts", "job_id", "updated_at")

    preview = services.run_inline(services.trigger_sync(shop_store, mode="preview", send=False))

    assert preview.status == "succeeded", preview.errors
    assert (1, "price", "store", "77.770000") in {(row[1], row[2], row[3], row[5]) for row in plan(preview)}
    assert list(DeadLetter.objects.values_list("pk", "status", "attempts", "job_id", "updated_at")) == [letter]


def test_a_preview_then_its_apply_equal_the_sync_run_directly(make_shop_simulator, make_store):
    outcomes = []
    for apply in (False, True):
        sim = make_shop_simulator(products=8, customers=4, orders=4)
        store = make_store(platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key)
        first_sync(store)
        changes(store, sim)
        if apply:
            preview = services.run_sync_now(store, mode="preview")
            job = services.run_inline(services.apply_preview(preview, send=False))
            assert (job.mode, job.source_job_id, job.sync_type) == ("apply", preview.pk, "records")
        else:
            job = services.run_sync_now(store)
        assert job.status == "succeeded", (job.message, job.errors)
        outcomes.append(
            (
                sorted(Product.objects.filter(store=store).values_list("sku", "price", "name")),
                {i: sim_get(sim, f"products/{i}")["price"] for i in range(1, 9)},
                sorted(SyncConflict.objects.filter(store=store).values_list("field", "status", "resolution")),
            )
        )
    assert outcomes[0] == outcomes[1]


def test_an_apply_skips_and_reports_a_record_changed_since_the_preview(shop_store, sim):
    first_sync(shop_store)
    changes(shop_store, sim)
    preview = services.run_sync_now(shop_store, mode="preview")
    sim_post(sim, "mutate", {"products": [2], "fields": {"price": "23.000000"}})  # moved since
    sim_post(sim, "reset_stats")

    job = services.run_inline(services.apply_preview(preview, send=False))

    assert job.status == "partial"
    p2 = platform_product(shop_store, 2)
    [error] = [e for e in job.errors if e["code"] == "CHANGED_SINCE_PREVIEW"]
    assert (error["record_pk"], error["shop_id"], error["fields"]) == (p2.pk, 2, ["price"])
    assert p2.price != Decimal("23") and p2.price != Decimal("22")
    assert platform_product(shop_store, 1).price == Decimal("11")
    assert sim_get(sim, "products/3")["price"] == "33.000000"
    assert Product.objects.get(store=shop_store, sku="HUB-ONLY-1").id_origin is not None
    assert sim_stats(sim).get("product_post", 0) == 1


def test_only_a_finished_preview_can_be_applied(shop_store, sim):
    first_sync(shop_store)
    sync = services.run_sync_now(shop_store)
    with pytest.raises(services.JobStateConflict):
        services.apply_preview(sync)
    empty = services.run_sync_now(shop_store, mode="preview")
    with pytest.raises(services.JobStateConflict):
        services.apply_preview(empty)  # nothing planned


@pytest.fixture
def client(api, make_user, shop_store):
    from catalog.roles import Role

    return api(make_user("operator", role=Role.OPERATOR, stores=[shop_store]))


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error" and body["code"] == code, body
    return body


def test_the_preview_endpoint_queues_a_preview_and_its_apply_a_job_of_its_records(client, shop_store, sim):
    first_sync(shop_store)
    changes(shop_store, sim)
    url = f"/api/v1/stores/{shop_store.pk}/sync/preview"

    response = client.post(url, {"entities": ["products"], "sync_type": "full"}, format="json")

    assert response.status_code == 202, response.content
    data = response.json()["data"]
    assert data["status"] == "queued" and data["entities_to_sync"] == ["products"]
    preview = services.run_inline(StoreSyncJob.objects.get(pk=data["sync_job_id"]))
    assert (preview.mode, preview.sync_type, preview.status) == ("preview", "full", "succeeded")
    shown = client.get(f"/api/v1/sync/jobs/{preview.pk}").json()["data"]
    assert shown["mode"] == "preview" and shown["preview"]["products"]["update"] == 4

    applied = client.post(f"/api/v1/sync/jobs/{preview.pk}/apply")

    assert applied.status_code == 202, applied.content
    job = StoreSyncJob.objects.get(pk=applied.json()["data"]["sync_job_id"])
    assert (job.mode, job.source_job_id, job.sync_type) == ("apply", preview.pk, "records")
    assert job.params["records"]["products"]["shop_ids"] == []
    assert len(job.params["records"]["products"]["record_pks"]) == 5
    error(client.post(f"/api/v1/sync/jobs/{job.pk}/apply"), 409, "DATA_CONFLICT")  # not a preview


@pytest.mark.parametrize(
    "body",
    [
        {"entities": ["invoices"]},
        {"entities": "products"},
        {"entities": []},
        {"entities": ["products", "products"]},
        {"sync_type": "records"},
        {"sync_type": 3},
        {"options": {"force_full_sync": "perhaps"}},
    ],
)
def test_the_preview_endpoint_refuses_bad_input(client, shop_store, body):
    configure(shop_store, products={})
    url = f"/api/v1/stores/{shop_store.pk}/sync/preview"
    error(client.post(url, body, format="json"), 400, "VALIDATION_ERROR")
    assert not StoreSyncJob.objects.exists()


def test_the_preview_endpoint_refuses_like_the_trigger(client, api, make_user, shop_store, other_store):
    url = f"/api/v1/stores/{shop_store.pk}/sync/preview"
    error(client.post(url, {}, format="json"), 409, "SYNC_NOT_CONFIGURED")
    configure(shop_store, products={})
    error(client.post(url, {"entities": ["orders"]}, format="json"), 400, "VALIDATION_ERROR")  # not configured
    error(client.post(f"/api/v1/stores/{other_store.pk}/sync/preview", {}, format="json"), 404, "STORE_NOT_FOUND")
    from catalog.roles import Role

    viewer = api(make_user("viewer", role=Role.VIEWER, stores=[shop_store]))
    error(viewer.post(url, {}, format="json"), 403, "PERMISSION_DENIED")
    services.pause_sync(shop_store)
    error(client.post(url, {}, format="json"), 409, "SYNC_PAUSED")


def test_the_admin_previews_shows_the_diff_and_applies(console, shop_store, sim, django_capture_on_commit_callbacks):
    first_sync(shop_store)
    changes(shop_store, sim)
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(
            "/admin/storesync/syncconfig/",
            {"action": "preview_now", "_selected_action": [shop_store.sync_config.pk]},
            follow=True,
        )
    assert "full preview queued" in str(list(response.context["messages"]))
    preview = StoreSyncJob.objects.get(mode="preview")
    assert preview.status == "succeeded", preview.message  # the eager worker ran it
    html = console.get(f"/admin/storesync/storesyncjob/{preview.pk}/change/").content.decode()
    assert "Planned changes" in html and "11.000000" in html and "strategy:last_write_wins" in html
    assert "apply_preview" in html

    with django_capture_on_commit_callbacks(execute=True):
        console.post(f"/admin/storesync/storesyncjob/{preview.pk}/apply_preview/", {"_form_submitted": "1"})

    applied = StoreSyncJob.objects.get(mode="apply")
    assert applied.source_job_id == preview.pk and applied.status == "succeeded", applied.errors
    assert platform_product(shop_store, 1).price == Decimal("11")


def test_a_preview_links_no_twin(shop_store, sim):
    """A shop record and an unlinked platform record with the same sku are linked by a sync; a
    preview plans the merge and leaves them unlinked."""
    first_sync(shop_store)
    twin = platform_product(shop_store, 5)
    SyncRecordState.objects.filter(record_pk=twin.pk).delete()
    Product.objects.filter(pk=twin.pk).update(id_origin=None)
    sim_post(sim, "mutate", {"products": [5], "fields": {"price": "55.000000"}})

    preview = services.run_sync_now(shop_store, mode="preview")

    assert preview.status == "succeeded", preview.errors
    twin.refresh_from_db()
    assert twin.id_origin is None
    assert {(row[0], row[1], row[2]) for row in plan(preview)} == {(twin.pk, 5, "price")}  # merged as linked
    services.run_sync_now(shop_store)
    twin.refresh_from_db()
    assert twin.id_origin == 5


def test_a_preview_reports_an_invalid_value_without_a_dead_letter(shop_store, sim):
    first_sync(shop_store)
    bad = platform_product(shop_store, 6)
    Product.objects.filter(pk=bad.pk).update(price=Decimal("-1"), updated_at=timezone.now())

    preview = services.run_sync_now(shop_store, mode="preview")

    assert [(e["record_pk"], e["code"]) for e in preview.errors] == [(bad.pk, "INVALID_DATA_FORMAT")]
    assert not DeadLetter.objects.exists()
    assert services.run_sync_now(shop_store).status == "partial"
    assert DeadLetter.objects.filter(record_pk=bad.pk).exists()  # the sync owes it; the preview did not
