"""The conflict inbox and the dead letters in the console: pending by default, records named in a
fixed number of queries, values as text, bulk decisions through storesync.resolution (custom value,
keep newest, the staleness check), "next pending", and the fix hint of a dead letter."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Customer, Order, Product
from storesync import services
from storesync.models import DeadLetter, StoreSyncJob, SyncConflict
from tests.plugins.simulator import sim_get, sim_post
from tests.storesync.conftest import configure, edit_platform, platform_product
from tests.storesync.test_admin import refused_letter

pytestmark = pytest.mark.django_db

INBOX = "/admin/storesync/syncconflict/"
LETTERS = "/admin/storesync/deadletter/"


def pending_conflicts(store, sim, shop_ids=(2, 3)):
    configure(store, products={"conflict_resolution": "manual_resolution"})
    services.run_sync_now(store, sync_type="full")
    for shop_id in shop_ids:
        sim_post(sim, "mutate", {"products": [shop_id], "fields": {"price": "11.000000"}})
        edit_platform(platform_product(store, shop_id), price="22.000000")
    services.run_sync_now(store)
    return list(SyncConflict.objects.filter(store=store, status="pending").order_by("id"))


def conflict_on(record, entity_type: str, field: str, **values) -> SyncConflict:
    now = timezone.now()
    return SyncConflict.objects.create(
        store=record.store,
        entity_type=entity_type,
        record_pk=record.pk,
        shop_id=record.id_origin,
        field=field,
        store_value=values.get("store", "a"),
        platform_value=values.get("platform", "b"),
        base_value=values.get("base", "c"),
        last_modified_store=now,
        last_modified_platform=now - timedelta(minutes=1),
        status=values.get("status", "pending"),
    )


def records(store, n: int, start: int = 100):
    made = []
    for i in range(start, start + n):
        product = Product.objects.create(store=store, id_origin=i, name=f"Mug {i}", sku=f"MUG-{i}")
        customer = Customer.objects.create(store=store, id_origin=i, email=f"c{i}@example.com")
        order = Order.objects.create(store=store, id_origin=i, reference=f"REF{i:05d}")
        made += [
            conflict_on(product, "products", "price"),
            conflict_on(customer, "customers", "email"),
            conflict_on(order, "orders", "status"),
        ]
    return made


def test_the_inbox_shows_pending_conflicts_by_default_and_all_one_click_away(console, store):
    pending, resolved, _ = records(store, 1)
    SyncConflict.objects.filter(pk=resolved.pk).update(status="resolved")

    page = console.get(INBOX).content.decode()
    assert f'href="/admin/storesync/syncconflict/{pending.pk}/change/' in page
    assert f'href="/admin/storesync/syncconflict/{resolved.pk}/change/' not in page
    assert "?status__exact=all" in page  # the "All" choice of the status filter

    everything = console.get(INBOX, {"status__exact": "all"}).content.decode()
    assert f'href="/admin/storesync/syncconflict/{resolved.pk}/change/' in everything
    # The dashboard's links (status__exact=pending) filter the same way.
    assert console.get(INBOX, {"status__exact": "resolved"}).context["cl"].result_count == 1


def test_rows_name_their_records_with_links_counts_and_values_as_text(console, store):
    product = Product.objects.create(store=store, id_origin=7, name="Blue mug", sku="MUG-BLUE")
    customer = Customer.objects.create(store=store, id_origin=8, email="ada@example.com")
    order = Order.objects.create(store=store, id_origin=9, reference="XKBKNABJK")
    conflict_on(product, "products", "description", store="<b>bold</b><script>alert(1)</script>", platform="plain")
    conflict_on(customer, "customers", "email")
    conflict_on(order, "orders", "status")

    page = console.get(INBOX).content.decode()
    assert "Blue mug (MUG-BLUE)" in page and f"/admin/catalog/product/{product.pk}/change/" in page
    assert "ada@example.com" in page and f"/admin/catalog/customer/{customer.pk}/change/" in page
    assert "XKBKNABJK" in page and f"/admin/catalog/order/{order.pk}/change/" in page
    assert "<script>alert(1)</script>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert 'id="conflict-counts"' in page and f"{store.code} · products · description<b>1</b>" in page


def test_a_long_value_is_cut_in_the_list_and_whole_on_the_conflict_page(console, store):
    product = Product.objects.create(store=store, id_origin=7, name="Blue mug", sku="MUG-BLUE")
    long_text = "word " * 60 + "THE-END"
    conflict = conflict_on(product, "products", "description", store=long_text)
    assert "THE-END</span>" not in console.get(INBOX).content.decode()
    page = console.get(f"{INBOX}{conflict.pk}/change/").content.decode()
    assert "THE-END" in page and 'id="conflict-side-by-side"' in page


def test_the_inbox_reads_in_a_fixed_number_of_queries(console, store):
    records(store, 2)
    with CaptureQueriesContext(connection) as few:
        assert console.get(INBOX).status_code == 200
    records(store, 12, start=200)
    with CaptureQueriesContext(connection) as many:
        page = console.get(INBOX)
    assert page.context["cl"].result_count == 42
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]
    assert len(many) <= 11  # docs/console.md states the count


def test_the_dead_letter_list_reads_in_a_fixed_number_of_queries(console, store):
    def letters(start: int, n: int):
        for i in range(start, start + n):
            product = Product.objects.create(store=store, id_origin=i, name=f"Mug {i}", sku=f"MUG-{i}")
            DeadLetter.objects.create(
                store=store,
                entity_type="products",
                operation="update_store",
                record_pk=product.pk,
                shop_id=i,
                error="refused",
                code="INVALID_DATA_FORMAT",
                requeue_job=StoreSyncJob.objects.create(store=store, kind="store_sync", lock_key=f"k{i}"),
            )

    letters(1, 2)
    with CaptureQueriesContext(connection) as few:
        assert console.get(LETTERS).status_code == 200
    letters(10, 20)
    with CaptureQueriesContext(connection) as many:
        assert console.get(LETTERS).context["cl"].result_count == 22
    assert len(many) == len(few) and len(many) <= 9  # docs/console.md states the count


def test_a_custom_value_asks_for_the_value_then_writes_it_to_both_sides(console, shop_store, sim):
    first, second = pending_conflicts(shop_store, sim)
    asked = console.post(INBOX, {"action": "use_custom_value", "_selected_action": [first.pk, second.pk], "index": 0})
    assert asked.status_code == 200 and 'name="custom_value"' in asked.content.decode()
    assert SyncConflict.objects.filter(status="pending").count() == 2  # nothing decided yet

    refused = console.post(
        INBOX, {"action": "use_custom_value", "_selected_action": [first.pk], "custom_value": "-5"}, follow=True
    ).content.decode()
    assert f"Conflict {first.pk}: custom_value:" in refused
    first.refresh_from_db()
    assert first.status == "pending"

    console.post(
        INBOX, {"action": "use_custom_value", "_selected_action": [first.pk, second.pk], "custom_value": "33.5"}
    )
    for conflict in (first, second):
        conflict.refresh_from_db()
        assert (conflict.status, conflict.resolution) == ("resolved", "use_custom_value")
        assert platform_product(shop_store, conflict.shop_id).price == Decimal("33.5")
        assert sim_get(sim, f"products/{conflict.shop_id}")["price"] == "33.500000"


def test_keep_newest_keeps_the_side_modified_last(console, shop_store, sim):
    [conflict] = pending_conflicts(shop_store, sim, shop_ids=(2,))
    newer_platform = conflict.last_modified_store + timedelta(minutes=5)
    SyncConflict.objects.filter(pk=conflict.pk).update(last_modified_platform=newer_platform)
    console.post(INBOX, {"action": "keep_newest", "_selected_action": [conflict.pk], "index": 0})
    conflict.refresh_from_db()
    assert (conflict.status, conflict.resolution) == ("resolved", "use_platform_value")
    assert sim_get(sim, "products/2")["price"] == "22.000000"


def test_a_stale_conflict_is_reported_and_not_overwritten(console, shop_store, sim):
    [conflict] = pending_conflicts(shop_store, sim, shop_ids=(2,))
    sim_post(sim, "mutate", {"products": [2], "fields": {"price": "44.000000"}})  # the shop moved since

    page = console.post(
        INBOX, {"action": "use_platform_value", "_selected_action": [conflict.pk], "index": 0}, follow=True
    ).content.decode()
    assert f"Conflict {conflict.pk} was not changed" in page and "Nothing was written" in page
    conflict.refresh_from_db()
    assert (conflict.status, conflict.store_value) == ("pending", "44.000000")
    assert sim_get(sim, "products/2")["price"] == "44.000000"


def test_a_decision_on_a_conflicts_page_opens_the_next_pending_one_same_store_first(
    console, shop_store, sim, make_store
):
    other = make_store("other")
    elsewhere = conflict_on(Product.objects.create(store=other, id_origin=1, name="x"), "products", "price")
    first, second = pending_conflicts(shop_store, sim)
    assert elsewhere.pk < first.pk  # the older one is another store's: the same store's comes first

    answer = console.post(
        INBOX, {"action": "use_store_value", "_selected_action": [first.pk], "index": 0, "_next_pending": 1}
    )
    assert answer.status_code == 302 and answer["Location"] == f"{INBOX}{second.pk}/change/"
    answer = console.post(INBOX, {"action": "ignore", "_selected_action": [second.pk], "index": 0, "_next_pending": 1})
    assert answer["Location"] == f"{INBOX}{elsewhere.pk}/change/"
    SyncConflict.objects.filter(pk=elsewhere.pk).update(status="ignored")
    page = console.get(f"{INBOX}{second.pk}/change/").content.decode()
    assert "No other pending conflict." in page


def test_a_dead_letter_says_where_the_fix_is_and_how_its_requeue_ended(
    console, shop_store, sim, django_capture_on_commit_callbacks
):
    letter = refused_letter(shop_store, sim)
    page = console.get(LETTERS).content.decode()
    assert letter.code == "INVALID_DATA_FORMAT" and "Fix in the shop" in page and "never requeued" in page
    assert f"/admin/catalog/product/{letter.record_pk}/change/" in page

    sim_post(sim, "config", {"fail_next": {"count": 1, "status": 400, "code": 86, "method": "PATCH"}})
    with django_capture_on_commit_callbacks(execute=True):
        console.post(LETTERS, {"action": "requeue", "_selected_action": [letter.pk], "index": 0})
    letter.refresh_from_db()
    page = console.get(LETTERS).content.decode()  # the default list: owed letters
    assert f'href="/admin/storesync/deadletter/{letter.pk}/change/' in page
    assert f"/admin/storesync/storesyncjob/{letter.requeue_job_id}/change/" in page
    assert 'data-state="partial"' in page and "86" in page


def test_transient_errors_say_retry():
    from storesync.presenters import dead_letter_fix

    assert dead_letter_fix("SYNC_TIMEOUT")[0] == "retry"
    assert dead_letter_fix("PLATFORM_SERVER_ERROR")[0] == "retry"
    assert dead_letter_fix("INVALID_DATA_FORMAT")[0] == "shop"
    assert dead_letter_fix("PLATFORM_AUTH_FAILED")[0] == "settings"


def test_sync_configuration_fields_are_checkboxes_and_errors_land_on_the_field(console, shop_store):
    from storesync.admin import EntityForm

    configure(shop_store, products={}, orders={})
    services.set_filters(shop_store, entity_type="products", filters=[], exclude_fields=["vendor_code"])
    config = shop_store.sync_config
    page = console.get(f"/admin/storesync/syncconfig/{config.pk}/change/").content.decode()
    assert 'type="checkbox" name="entities-0-fields" value="price"' in page
    assert 'value="vendor_code"' in page and 'name="entities-0-exclude_fields"' in page  # kept, not dropped
    assert 'name="rules-__prefix__-field"' in page and "<optgroup" in page  # rules' fields are selects

    orders = config.entities.get(entity_type="orders")
    data = {
        "config": config.pk,
        "entity_type": "orders",
        "enabled": "on",
        "direction": "bidirectional",  # orders flow to the platform only
        "conflict_resolution": "last_write_wins",
        "fields": ["price"],  # a product's field
        "position": 0,
        "max_changes": 500,
        "max_changes_percent": 25,
    }
    form = EntityForm(data=data, instance=orders)
    assert not form.is_valid()
    assert "fields" in form.errors and "price" in form.errors["fields"][0]
    data["fields"] = ["status", "total"]
    form = EntityForm(data=data, instance=orders)
    assert not form.is_valid() and list(form.errors) == ["direction"]
    data["direction"] = "to_platform"
    form = EntityForm(data=data, instance=orders)
    assert form.is_valid(), form.errors
    assert form.save().fields == ["status", "total"]
