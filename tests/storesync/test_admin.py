"""The operator console: configurations with their inlines, jobs with progress, conflicts side by
side with their actions, dead letters with requeue."""

from __future__ import annotations

from decimal import Decimal

import pytest

from storesync import services
from storesync.models import DeadLetter, StoreSyncJob, SyncConflict
from tests.plugins.simulator import sim_get, sim_post
from tests.storesync.conftest import configure, edit_platform, platform_product

pytestmark = pytest.mark.django_db


def pending_conflicts(store, sim):
    configure(store, products={"conflict_resolution": "manual_resolution"})
    services.run_sync_now(store, sync_type="full")
    for shop_id in (2, 3):
        sim_post(sim, "mutate", {"products": [shop_id], "fields": {"price": "11.000000"}})
        edit_platform(platform_product(store, shop_id), price="22.000000")
    services.run_sync_now(store)
    return list(SyncConflict.objects.filter(store=store, status="pending").order_by("id"))


def test_configuration_pages_show_entities_rules_and_filters(console, shop_store):
    configure(
        shop_store,
        products={},
        orders={},
        webhook_config={"endpoint": "http://127.0.0.1:9/hook", "secret": "s3cret-value"},
    )
    services.set_rules(
        shop_store,
        [
            {
                "name": "r1",
                "entity_type": "products",
                "field": "price",
                "condition": "conflict_detected",
                "action": "use_highest_value",
            }
        ],
    )
    services.set_filters(
        shop_store,
        entity_type="products",
        exclude_fields=["vendor_code"],
        filters=[{"field": "status", "operator": "equals", "value": "active"}],
    )
    assert console.get("/admin/storesync/syncconfig/").status_code == 200
    page = console.get(f"/admin/storesync/syncconfig/{shop_store.sync_config.pk}/change/").content.decode()
    assert "use_highest_value" in page and "vendor_code" in page and "to_platform" in page
    assert "s3cret-value" not in page


def test_the_sync_now_action_queues_a_job(console, shop_store, django_capture_on_commit_callbacks):
    configure(shop_store, products={})
    with django_capture_on_commit_callbacks(execute=True):
        console.post(
            "/admin/storesync/syncconfig/", {"action": "full_sync_now", "_selected_action": [shop_store.sync_config.pk]}
        )
    job = StoreSyncJob.objects.get(store=shop_store)
    assert job.trigger == "admin" and job.sync_type == "full" and job.status == "succeeded"
    page = console.get(f"/admin/storesync/storesyncjob/{job.pk}/change/").content.decode()
    assert "Results per entity" in page and "records synced" in page
    assert "100.0%" in console.get("/admin/storesync/storesyncjob/").content.decode()


def test_conflicts_side_by_side_and_their_actions(console, shop_store, sim):
    first, second = pending_conflicts(shop_store, sim)
    page = console.get("/admin/storesync/syncconflict/").content.decode()
    assert "11.000000" in page and "22.000000" in page and "Store value, modified" in page
    console.post("/admin/storesync/syncconflict/", {"action": "use_store_value", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert first.status == "resolved" and first.resolution == "use_store_value"
    assert platform_product(shop_store, first.shop_id).price == Decimal("11")
    console.post("/admin/storesync/syncconflict/", {"action": "use_platform_value", "_selected_action": [second.pk]})
    assert sim_get(sim, f"products/{second.shop_id}")["price"] == "22.000000"


def test_ignoring_a_conflict_changes_nothing_and_it_is_not_raised_again(console, shop_store, sim):
    first, _ = pending_conflicts(shop_store, sim)
    console.post("/admin/storesync/syncconflict/", {"action": "ignore", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert first.status == "ignored"
    services.run_sync_now(shop_store, sync_type="full")
    assert not SyncConflict.objects.filter(store=shop_store, record_pk=first.record_pk, status="pending").exists()


def test_dead_letters_can_be_requeued(console, shop_store, sim, django_capture_on_commit_callbacks):
    configure(shop_store, products={})
    services.run_sync_now(shop_store, sync_type="full")
    edit_platform(platform_product(shop_store, 2), price="21.000000")
    sim_post(sim, "config", {"fail_next": {"count": 1, "status": 400, "method": "PATCH"}})
    services.run_sync_now(shop_store)
    letter = DeadLetter.objects.get()
    assert console.get("/admin/storesync/deadletter/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        console.post("/admin/storesync/deadletter/", {"action": "requeue", "_selected_action": [letter.pk]})
    letter.refresh_from_db()
    assert letter.status == "resolved" and letter.requeue_job.status == "succeeded"
    assert sim_get(sim, "products/2")["price"] == "21.000000"


def refused_letter(store, sim) -> DeadLetter:
    configure(store, products={})
    services.run_sync_now(store, sync_type="full")
    edit_platform(platform_product(store, 2), price="21.000000")
    sim_post(sim, "config", {"fail_next": {"count": 1, "status": 400, "code": 85, "method": "PATCH"}})
    services.run_sync_now(store)
    return DeadLetter.objects.get()


def test_a_requeued_letter_that_fails_again_stays_pending(console, shop_store, sim, django_capture_on_commit_callbacks):
    letter = refused_letter(shop_store, sim)
    sim_post(sim, "config", {"fail_next": {"count": 1, "status": 400, "code": 86, "method": "PATCH"}})
    with django_capture_on_commit_callbacks(execute=True):
        console.post("/admin/storesync/deadletter/", {"action": "requeue", "_selected_action": [letter.pk]})

    [again] = DeadLetter.objects.all()  # the same letter, not a second one
    assert (again.pk, again.status, again.attempts) == (letter.pk, "pending", 2)
    assert "86" in again.error and again.requeue_job.status == "partial"
    assert again.job == again.requeue_job
    assert sim_get(sim, "products/2")["price"] != "21.000000"


@pytest.mark.django_db(transaction=True)
def test_a_job_that_runs_at_once_cannot_have_its_outcome_overwritten(console, shop_store, sim):
    """The embedded mode's worker (and a fast one in production) runs the job as soon as it is
    queued: the letters are marked in the same transaction, before it can start."""
    from storesync.dashboard import dead_letters

    letter = refused_letter(shop_store, sim)
    sim_post(sim, "config", {"fail_next": {"count": 1, "status": 400, "code": 86, "method": "PATCH"}})
    page = console.post(
        "/admin/storesync/deadletter/", {"action": "requeue", "_selected_action": [letter.pk]}, follow=True
    ).content.decode()

    letter.refresh_from_db()
    assert (letter.status, letter.attempts) == ("pending", 2)
    assert "failed again" in page
    assert dead_letters([shop_store])[shop_store.pk].text == "1"


def test_dropped_letters_are_no_longer_owed(console, shop_store, sim):
    letter = refused_letter(shop_store, sim)
    console.post("/admin/storesync/deadletter/", {"action": "drop", "_selected_action": [letter.pk]})
    letter.refresh_from_db()
    assert letter.status == "dropped"
    assert services.run_sync_now(shop_store).status == "succeeded"
