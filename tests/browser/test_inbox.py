"""The conflict inbox, the dead letters and the job list in Chromium at 1366x768 and 1920x1080:
no horizontal overflow, an operator settles a conflict and lands on the next one, a requeue that
fails again (on the real worker) stays in the list, and a failed job is in the danger colour
with its label."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from storesync import services as storesync
from storesync.models import DeadLetter, StoreSyncJob, SyncConflict
from tests.browser.conftest import PASSWORD, shop_key
from tests.plugins.simulator import sim_get, sim_post
from tests.storesync.conftest import configure, edit_platform, platform_product

SCREENS = [(1366, 768), (1920, 1080)]


def settle(store):
    configure(store, products={"conflict_resolution": "manual_resolution"})
    job = storesync.run_sync_now(store, sync_type="full")
    assert job.status == "succeeded", job.message


def assert_fits(console, label: str, must_show: str | None = None) -> None:
    """At each screen size: nothing wider than the window, and ``must_show`` within it."""
    for width, height in SCREENS:
        console.page.set_viewport_size({"width": width, "height": height})
        overflow = console.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{label} overflows by {overflow}px at {width}px"
        table = console.page.locator("#result_list")
        if table.count():
            box = table.bounding_box()
            assert box["x"] + box["width"] <= width, f"{label}: the list is cut at {width}px ({box})"
        if must_show:
            box = console.page.locator(must_show).first.bounding_box()
            assert box and box["x"] + box["width"] <= width, f"{must_show} cut at {width}px: {box}"
        console.snap(f"{label} at {width}")


def test_an_operator_settles_a_conflict_from_the_inbox_and_lands_on_the_next(
    console, operator, make_shop_simulator, make_console_store
):
    sim = make_shop_simulator(products=8, customers=2, orders=2, api_key=shop_key())
    store = make_console_store(sim, "south")
    settle(store)
    for shop_id, description in ((3, "<p>Hand <b>made</b> in Lyon</p>"), (5, "Plain text")):
        sim_post(sim, "mutate", {"products": [shop_id], "fields": {"price": "11.000000", "description": description}})
        edit_platform(platform_product(store, shop_id), price="22.000000", description="Platform words")
    storesync.run_sync_now(store)
    first, *others = SyncConflict.objects.filter(store=store, status="pending").order_by("id")
    assert len(others) >= 1

    console.login("operator", PASSWORD)
    console.goto("/admin/storesync/syncconflict/")
    console.page.wait_for_selector("#result_list")
    assert_fits(console, "the inbox", must_show='#result_list [data-state="pending"]')
    assert "south · products · price" in console.page.inner_text("#conflict-counts")
    rows = console.page.locator("#result_list tbody tr")
    assert rows.count() == len(others) + 1
    first_row = console.page.locator(f'#result_list tbody tr:has(a[href*="/{first.pk}/change/"])')
    assert platform_product(store, first.shop_id).name in first_row.inner_text()
    assert "<p>Hand <b>made</b>" in console.page.inner_text("#result_list")  # HTML shown as text

    first_row.locator("th a, td a").first.click()
    console.page.wait_for_selector("#conflict-side-by-side")
    assert_fits(console, "a conflict side by side")
    side = console.page.locator("#conflict-side-by-side")
    assert first.store_value == side.locator(".conflict-store").inner_text().strip()
    side.locator("button[value=use_store_value]").click()
    console.page.wait_for_url(f"**/admin/storesync/syncconflict/{others[0].pk}/change/")
    console.snap("the next pending conflict")
    assert "1 conflict(s) resolved" in console.page.content()

    second = others[0]
    value = "15.500000" if second.field == "price" else "Custom words"
    console.page.fill("#custom-value", value)
    with console.page.expect_navigation():
        console.page.press("#custom-value", "Enter")  # Enter sends the custom value, not another decision
    console.snap("after a custom value")
    second.refresh_from_db()
    assert (second.status, second.resolution, second.resolved_value) == ("resolved", "use_custom_value", value)

    first.refresh_from_db()
    assert (first.status, first.resolution, first.resolved_by_id) == ("resolved", "use_store_value", operator.pk)
    product = platform_product(store, first.shop_id)
    kept = product.price if first.field == "price" else getattr(product, first.field)
    assert kept == (Decimal(first.store_value) if first.field == "price" else first.store_value)


@pytest.mark.worker
def test_a_requeue_that_fails_again_stays_visible(
    console, operator, hub_worker, make_shop_simulator, make_console_store
):
    sim = make_shop_simulator(products=8, customers=2, orders=2, api_key=shop_key())
    store = make_console_store(sim, "east")
    configure(store, products={})
    storesync.run_sync_now(store, sync_type="full")
    edit_platform(platform_product(store, 2), price="21.000000")
    sim_post(sim, "config", {"fail_next": {"count": 1, "status": 400, "code": 85, "method": "PATCH"}})
    storesync.run_sync_now(store)
    letter = DeadLetter.objects.get(store=store)

    console.login("operator", PASSWORD)
    console.goto("/admin/storesync/deadletter/")
    console.page.wait_for_selector("#result_list")
    assert_fits(console, "the dead letters", must_show='#result_list [data-state="pending"]')
    row = console.page.locator(f'#result_list tbody tr:has(a[href*="/deadletter/{letter.pk}/change/"])')
    assert "fix in the shop" in row.inner_text().lower() and "never requeued" in row.inner_text()

    sim_post(sim, "config", {"fail_next": {"count": 1, "status": 400, "code": 86, "method": "PATCH"}})
    message = console.run_action("requeue", letter.pk)
    assert "Requeued in 1 job(s)" in message
    console.snap("dead letter requeued")

    def failed_again() -> bool:
        text = row.inner_text() if row.count() else ""
        return "partially succeeded" in text.lower() or "failed" in text.lower()

    console.wait_for(failed_again)
    console.snap("the requeue failed again")
    letter.refresh_from_db()
    assert (letter.status, letter.attempts, letter.requeue_job.status) == ("pending", 2, "partial")
    assert "86" in row.inner_text() and "2" in row.locator("td.field-attempts").inner_text()
    assert sim_get(sim, "products/2")["price"] != "21.000000"


def test_a_failed_job_is_in_the_danger_colour_with_its_label(console, operator, store_for_jobs):
    console.login("operator", PASSWORD)
    console.goto("/admin/storesync/storesyncjob/")
    badge = console.page.locator('#result_list [data-state="failed"] span').first
    assert badge.inner_text().strip().lower() == "failed"
    danger = console.page.evaluate(
        """() => { const probe = document.createElement('span'); probe.className = 'text-red-700';
        document.body.appendChild(probe); const colour = getComputedStyle(probe).color; probe.remove(); return colour; }"""
    )
    assert badge.evaluate("e => getComputedStyle(e).color") == danger
    link_blue = console.page.evaluate(
        "() => getComputedStyle(document.querySelector('#result_list th a, #result_list td a')).color"
    )
    assert danger != link_blue
    assert "SYNC_TIMEOUT" in console.page.inner_text("#result_list")
    assert_fits(console, "the job list", must_show='#result_list [data-state="failed"]')
    console.page.locator('#result_list tbody tr:has([data-state="failed"]) a').first.click()
    console.page.wait_for_selector("#content")
    console.snap("a failed job")


@pytest.fixture
def store_for_jobs(transactional_db, make_store):
    store = make_store("jobs")
    now = timezone.now()
    StoreSyncJob.objects.create(
        store=store,
        kind="store_sync",
        lock_key="a",
        status="failed",
        error_code="SYNC_TIMEOUT",
        message="The shop did not answer within 30 seconds.",
        errors=[{"entity": "products", "record_pk": 1, "operation": "update_store", "code": "X", "message": "no"}],
        error_count=1,
        started_at=now,
        finished_at=now,
    )
    StoreSyncJob.objects.create(store=store, kind="store_sync", lock_key="b", status="succeeded", finished_at=now)
    return store


def test_the_sync_configuration_is_edited_with_checkboxes(console, operator, make_shop_simulator, make_console_store):
    sim = make_shop_simulator(products=2, customers=1, orders=1, api_key=shop_key())
    store = make_console_store(sim, "west")
    configure(store, products={})
    config = store.sync_config

    console.login("operator", PASSWORD)
    console.goto(f"/admin/storesync/syncconfig/{config.pk}/change/")
    console.page.wait_for_selector('input[name="entities-0-fields"]')
    assert_fits(console, "the sync configuration")
    console.page.uncheck('input[name="entities-0-fields"][value="description"]')
    console.page.check('input[name="entities-0-exclude_fields"][value="inventory"]')
    with console.page.expect_navigation():
        console.page.click('button[name="_continue"]')
    console.snap("the sync configuration saved")
    entity = config.entities.get(entity_type="products")
    assert "description" not in entity.fields and entity.exclude_fields == ["inventory"]


def test_audit_record_pages_have_no_save_or_delete(console, operator, store_for_jobs):
    from storesync.webhooks.models import InboundWebhook, WebhookDelivery

    delivery = WebhookDelivery.objects.create(
        store=store_for_jobs, msg_id="msg_1", event_type="sync.completed", payload={"type": "sync.completed"}
    )
    inbound = InboundWebhook.objects.create(
        store=store_for_jobs,
        webhook_id="wh_1",
        entity_type="products",
        event_type="product.updated",
        sent_at=timezone.now(),
    )
    job = StoreSyncJob.objects.filter(status="failed").get()
    console.login("operator", PASSWORD)
    for label, path in [
        ("webhook deliveries", "/admin/storesync/webhookdelivery/"),
        ("a webhook delivery", f"/admin/storesync/webhookdelivery/{delivery.pk}/change/"),
        ("inbound webhooks", "/admin/storesync/inboundwebhook/"),
        ("an inbound webhook", f"/admin/storesync/inboundwebhook/{inbound.pk}/change/"),
        ("edge status reports", "/admin/photosync/edgestatusreport/"),
        ("a failed store sync job", f"/admin/storesync/storesyncjob/{job.pk}/change/"),
    ]:
        console.goto(path)
        console.page.wait_for_selector("#content")
        assert_fits(console, label)
        for name in ("_save", "_continue", "_addanother"):
            assert console.page.locator(f'[name="{name}"]').count() == 0, (label, name)
        assert console.page.locator('a[href$="/delete/"]').count() == 0, label
        assert console.page.locator('option[value="delete_selected"]').count() == 0, label
