"""A record's sync lineage (GET /api/v1/stores/{id}/sync/records/{entity}/{pk}) against the shop
simulator: its shop id, the agreed base, the last job per field (preview jobs' plans left out),
its owed changes and pending conflicts; other stores' records and bad path values refused."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Customer, Order, Product
from catalog.roles import Role
from storesync import lineage, services
from storesync.engine.history import create_change
from storesync.models import DeadLetter, StoreSyncJob, SyncChange, SyncConflict
from tests.plugins.simulator import sim_get, sim_post
from tests.storesync.conftest import configure, edit_platform, platform_product

pytestmark = pytest.mark.django_db

SHOP_ID = 3


@pytest.fixture(autouse=True)
def _no_clock_skew(settings):
    settings.STORESYNC_CLOCK_SKEW = 0


@pytest.fixture
def client(api, make_user, shop_store):
    return api(make_user("operator", role=Role.OPERATOR, stores=[shop_store]))


def url(store, entity: str, pk) -> str:
    return f"/api/v1/stores/{store.pk}/sync/records/{entity}/{pk}"


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error" and body["code"] == code, body
    return body


def sync(store, **kwargs) -> StoreSyncJob:
    job = services.run_sync_now(store, **kwargs)
    assert job.status in ("succeeded", "partial"), job.message
    return job


def change(job, product, name, side, old, new, **extra) -> SyncChange:
    """The row the engine writes for a field it wrote (written here while the engine writes none)."""
    return SyncChange.objects.create(
        store=job.store,
        job=job,
        entity_type="products",
        record_pk=product.pk,
        shop_id=product.id_origin,
        field=name,
        side=side,
        old_value=old,
        new_value=new,
        **extra,
    )


def preview_job(store) -> StoreSyncJob:
    now = timezone.now()
    return StoreSyncJob.objects.create(
        store=store, kind="store_sync", lock_key=f"preview-{store.pk}", status="succeeded", mode="preview",
        started_at=now, finished_at=now,
    )  # fmt: skip


def test_the_lineage_names_the_shop_id_the_agreed_base_and_the_last_job_per_field(client, shop_store, sim):
    configure(shop_store, products={}, customers={})
    first = sync(shop_store, sync_type="full")
    product = platform_product(shop_store, SHOP_ID)
    shop_price = sim_get(sim, f"products/{SHOP_ID}")["price"]

    edit_platform(product, price="77.770000")
    second = sync(shop_store)  # the platform's price written to the shop (the engine's history)
    sim_post(sim, "mutate", {"products": [SHOP_ID], "fields": {"name": "Shop title"}})
    third = sync(shop_store)  # the shop's title written to the platform
    # A preview's planned rows were never written, nor was a conflict left pending: neither is
    # the field's last change.
    change(preview_job(shop_store), product, "price", "store", "77.770000", "1.000000")
    change(third, product, "price", "store", "77.770000", "2.000000", action="conflict", settled_by="pending")

    response = client.get(url(shop_store, "products", product.pk))

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    product.refresh_from_db()
    assert (data["entity"], data["record_pk"], data["shop_id"]) == ("products", product.pk, SHOP_ID)
    assert data["label"] == f"Shop title ({product.sku})"
    assert data["base"]["title"] == "Shop title" and data["base"]["price"] == 77.77
    assert data["synced_at"] and data["store_modified"] and data["platform_modified"]
    price, title = data["fields"]["price"], data["fields"]["title"]
    assert (price["value"], price["base"]) == (77.77, 77.77)
    assert price["last_change"]["job_id"] == str(second.pk)  # the later job replaces the first
    assert (price["last_change"]["side"], price["last_change"]["old_value"], price["last_change"]["new_value"]) == (
        "store",
        float(shop_price),
        77.77,
    )
    assert title["last_change"]["job_id"] == str(third.pk) and title["last_change"]["side"] == "platform"
    assert title["value"] == title["base"] == "Shop title"
    inventory = data["fields"]["inventory"]["last_change"]  # written once: the first sync's create
    assert (inventory["job_id"], inventory["action"], inventory["side"]) == (str(first.pk), "create", "platform")
    assert set(data["fields"]) == {"title", "description", "price", "inventory", "sku", "status"}
    assert data["owed"] == [] and data["pending_conflicts"] == []


def test_owed_changes_and_pending_conflicts_of_the_record_appear(client, shop_store, sim):
    configure(shop_store, products={})
    sync(shop_store, sync_type="full")
    product = platform_product(shop_store, SHOP_ID)
    neighbour = platform_product(shop_store, SHOP_ID + 1)

    configure(shop_store, products={"conflict_resolution": "manual_resolution"})
    sim_post(sim, "mutate", {"products": [SHOP_ID], "fields": {"description": "Shop words"}})
    edit_platform(product, description="Platform words")
    sync(shop_store)
    [conflict] = SyncConflict.objects.filter(store=shop_store, record_pk=product.pk, status="pending")

    edit_platform(product, price="55.000000")
    edit_platform(neighbour, price="66.000000")
    sim_post(sim, "config", {"fail_next": {"status": 400, "code": 85, "count": 2, "method": "PATCH"}})
    assert sync(shop_store).status == "partial"
    letter = DeadLetter.objects.owed().get(store=shop_store, record_pk=product.pk)

    data = client.get(url(shop_store, "products", product.pk)).json()["data"]

    assert [(o["id"], o["operation"], o["status"], o["attempts"]) for o in data["owed"]] == [
        (letter.pk, "update_store", "pending", 1)
    ]
    assert "85" in data["owed"][0]["error"]
    [pending] = data["pending_conflicts"]
    assert (pending["id"], pending["field"], pending["store_value"], pending["platform_value"]) == (
        conflict.pk,
        "description",
        "Shop words",
        "Platform words",
    )
    assert pending["base_value"] == conflict.base_value and pending["created_at"]
    # The neighbour's letter and a settled letter of the record are not this record's owed changes.
    DeadLetter.objects.filter(pk=letter.pk).update(status="resolved")
    assert client.get(url(shop_store, "products", product.pk)).json()["data"]["owed"] == []


def test_a_shop_only_letter_is_found_by_the_records_shop_id(client, shop_store):
    configure(shop_store, products={})
    sync(shop_store, sync_type="full")
    product = platform_product(shop_store, SHOP_ID)
    letter = DeadLetter.objects.create(
        store=shop_store, entity_type="products", operation="create_platform", shop_id=SHOP_ID, error="no", code="X"
    )
    DeadLetter.objects.create(
        store=shop_store, entity_type="customers", operation="create_platform", shop_id=SHOP_ID, error="no", code="X"
    )
    data = client.get(url(shop_store, "products", product.pk)).json()["data"]
    assert [o["id"] for o in data["owed"]] == [letter.pk]


def test_rows_written_before_the_record_had_a_platform_pk_count_by_shop_id(shop_store):
    configure(shop_store, customers={})
    job = sync(shop_store, sync_type="full")
    customer = Customer.objects.get(store=shop_store, id_origin=1)
    SyncChange.objects.bulk_create(
        [create_change(job, "customers", "platform", {"email": customer.email}, shop_id=customer.id_origin)]
    )
    found = lineage.record_lineage(shop_store, "customers", customer.pk)
    email = next(f for f in found.fields if f.name == "email")
    assert email.last_change.job_id == job.pk and email.last_change.action == "create"
    assert found.label == customer.email


def test_labels_of_customers_and_orders_and_only_configured_fields(client, shop_store):
    configure(shop_store, products={"fields": ["title", "price"]}, customers={}, orders={})
    sync(shop_store, sync_type="full")
    customer = Customer.objects.filter(store=shop_store).first()
    order = Order.objects.filter(store=shop_store).first()
    product = Product.objects.filter(store=shop_store).first()
    assert client.get(url(shop_store, "customers", customer.pk)).json()["data"]["label"] == customer.email
    data = client.get(url(shop_store, "orders", order.pk)).json()["data"]
    assert data["label"] == order.reference and data["shop_id"] == order.id_origin
    assert set(data["fields"]) == {"status", "total", "customer_info"}
    assert set(client.get(url(shop_store, "products", product.pk)).json()["data"]["fields"]) == {"title", "price"}


def test_a_record_never_synced_has_no_base(client, shop_store):
    product = Product.objects.create(store=shop_store, name="Local only", sku="LOCAL-1", price="3.00")
    data = client.get(url(shop_store, "products", product.pk)).json()["data"]
    assert (data["shop_id"], data["base"], data["synced_at"]) == (None, None, None)
    assert data["fields"]["title"] == {"value": "Local only", "base": None, "last_change": None}


def test_other_stores_records_unknown_records_and_bad_path_values_are_refused(client, shop_store, other_store, api):
    configure(shop_store, products={})
    sync(shop_store, sync_type="full")
    theirs = Product.objects.create(store=other_store, name="Theirs", sku="T-1", price="1.00")
    error(client.get(url(shop_store, "products", theirs.pk)), 404, "NOT_FOUND")
    error(client.get(url(other_store, "products", theirs.pk)), 404, "STORE_NOT_FOUND")
    mine = platform_product(shop_store, SHOP_ID)
    error(client.get(url(shop_store, "customers", mine.pk + 10_000)), 404, "NOT_FOUND")
    for pk in ("abc", "-1", "1.5", "9" * 30, "99999999"):
        error(client.get(url(shop_store, "products", pk)), 404, "NOT_FOUND")
    body = error(client.get(url(shop_store, "invoices", mine.pk)), 400, "VALIDATION_ERROR")
    assert "entity" in body["detail"]
    error(client.get(f"/api/v1/stores/not-a-store/sync/records/products/{mine.pk}"), 400, "VALIDATION_ERROR")
    assert client.get(url(shop_store, "products", f"{mine.pk}/")).status_code == 200
    assert api(None).get(url(shop_store, "products", mine.pk)).status_code == 401


def test_a_viewer_reads_the_lineage(api, make_user, shop_store):
    configure(shop_store, products={})
    sync(shop_store, sync_type="full")
    viewer = api(make_user("viewer", role=Role.VIEWER, stores=[shop_store]))
    assert viewer.get(url(shop_store, "products", platform_product(shop_store, SHOP_ID).pk)).status_code == 200


def test_the_query_count_does_not_grow_with_changes_letters_or_conflicts(
    client, shop_store, django_assert_max_num_queries
):
    configure(shop_store, products={})
    job = sync(shop_store, sync_type="full")
    product = platform_product(shop_store, SHOP_ID)
    client.get(url(shop_store, "products", product.pk))  # the first request's one-off reads
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(shop_store, "products", product.pk)).status_code == 200
    for name in ("title", "description", "price", "inventory", "sku", "status"):
        for _ in range(3):
            change(job, product, name, "store", "a", "b")
        SyncConflict.objects.create(store=shop_store, entity_type="products", record_pk=product.pk, field=name)
    for _ in range(5):
        DeadLetter.objects.create(
            store=shop_store,
            entity_type="products",
            operation="update_store",
            record_pk=product.pk,
            error="e",
            code="X",
        )
    with django_assert_max_num_queries(len(few)), CaptureQueriesContext(connection) as many:
        data = client.get(url(shop_store, "products", product.pk)).json()["data"]
    assert len(data["owed"]) == 5 and len(data["pending_conflicts"]) == 6
    assert all(f["last_change"]["job_id"] == str(job.pk) for f in data["fields"].values())
    assert len(many) == len(few) <= 10, [q["sql"] for q in many]


# The console's page


def lineage_page(store, entity: str, pk) -> str:
    return f"/admin/storesync/syncconflict/lineage/{store.pk}/{entity}/{pk}/"


def test_the_console_shows_the_lineage_linked_from_the_inbox_and_the_dead_letters(console, shop_store, sim):
    configure(shop_store, products={"conflict_resolution": "manual_resolution"})
    first = sync(shop_store, sync_type="full")
    product = platform_product(shop_store, SHOP_ID)
    change(first, product, "price", "platform", None, "10.000000")
    sim_post(sim, "mutate", {"products": [SHOP_ID], "fields": {"description": "<b>Shop</b> words"}})
    edit_platform(product, description="Platform words")
    sync(shop_store)
    conflict = SyncConflict.objects.get(store=shop_store, status="pending")
    edit_platform(product, price="55.000000")
    sim_post(sim, "config", {"fail_next": {"status": 400, "code": 85, "count": 1, "method": "PATCH"}})
    sync(shop_store)
    letter = DeadLetter.objects.owed().get(store=shop_store)
    page = lineage_page(shop_store, "products", product.pk)

    for listing in ("/admin/storesync/syncconflict/", "/admin/storesync/deadletter/"):
        assert page in console.get(listing).content.decode()
    assert page in console.get(f"/admin/storesync/syncconflict/{conflict.pk}/change/").content.decode()

    html = console.get(page).content.decode()
    assert f'<td class="lineage-shop-id">{SHOP_ID}</td>' in html
    assert f"/admin/storesync/storesyncjob/{first.pk}/change/" in html
    assert f"/admin/storesync/deadletter/{letter.pk}/change/" in html
    assert f"/admin/storesync/syncconflict/{conflict.pk}/change/" in html
    assert "&lt;b&gt;Shop&lt;/b&gt; words" in html and "<b>Shop</b>" not in html  # values as text
    assert f"/admin/catalog/product/{product.pk}/change/" in html


def test_the_console_refuses_unknown_records_and_users_without_the_permission(
    console, client, make_user, shop_store, other_store
):
    theirs = Product.objects.create(store=other_store, name="Theirs", sku="T-1", price="1.00")
    assert console.get(lineage_page(shop_store, "products", theirs.pk)).status_code == 404
    assert console.get(lineage_page(shop_store, "invoices", theirs.pk)).status_code == 404
    assert console.get(lineage_page(other_store, "products", theirs.pk)).status_code == 200
    assert console.get(lineage_page(other_store, "products", "9" * 30)).status_code == 404
    assert console.get(f"/admin/storesync/syncconflict/lineage/{'9' * 30}/products/1/").status_code == 404
    clerk = make_user("clerk")
    clerk.is_staff = True  # in the console, without the conflicts' view permission
    clerk.save()
    client.force_login(clerk)
    assert client.get(lineage_page(other_store, "products", theirs.pk)).status_code == 403


def test_the_console_page_reads_in_a_fixed_number_of_queries(console, shop_store):
    configure(shop_store, products={})
    job = sync(shop_store, sync_type="full")
    product = platform_product(shop_store, SHOP_ID)
    page = lineage_page(shop_store, "products", product.pk)
    console.get(page)
    with CaptureQueriesContext(connection) as few:
        assert console.get(page).status_code == 200
    for name in ("title", "price", "sku"):
        change(job, product, name, "store", "a", "b")
        SyncConflict.objects.create(store=shop_store, entity_type="products", record_pk=product.pk, field=name)
        DeadLetter.objects.create(
            store=shop_store,
            entity_type="products",
            operation="update_store",
            record_pk=product.pk,
            error="e",
            code="X",
        )
    with CaptureQueriesContext(connection) as many:
        assert console.get(page).status_code == 200
    assert len(many) == len(few) <= 9, [q["sql"][:120] for q in many.captured_queries]  # docs/console.md


def test_a_record_gone_from_the_platform_keeps_its_sync_identity(client, console, shop_store):
    configure(shop_store, products={})
    sync(shop_store, sync_type="full")
    product = platform_product(shop_store, SHOP_ID)
    pk = product.pk
    product.delete()
    data = client.get(url(shop_store, "products", pk)).json()["data"]
    assert (data["shop_id"], data["label"], data["fields"]["title"]["value"]) == (SHOP_ID, f"products {pk}", None)
    assert data["fields"]["title"]["base"] == data["base"]["title"]
    assert "no longer on the platform" in console.get(lineage_page(shop_store, "products", pk)).content.decode()
