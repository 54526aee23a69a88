"""A record's sync lineage page in Chromium at 1366x768 and 1920x1080: reached from the conflict
inbox, it names the record's shop id and its pending conflict, and nothing overflows."""

from __future__ import annotations

from storesync import services as storesync
from storesync.models import SyncConflict
from tests.browser.conftest import PASSWORD, shop_key
from tests.browser.test_inbox import assert_fits
from tests.plugins.simulator import sim_post
from tests.storesync.conftest import configure, edit_platform, platform_product

SHOP_ID = 4
LONG = "A long description without spaces: " + "x" * 400


def test_the_lineage_page_shows_the_shop_id_and_the_pending_conflict(
    console, operator, make_shop_simulator, make_console_store
):
    sim = make_shop_simulator(products=6, customers=2, orders=2, api_key=shop_key())
    store = make_console_store(sim, "north")
    configure(store, products={"conflict_resolution": "manual_resolution"})
    assert storesync.run_sync_now(store, sync_type="full").status == "succeeded"
    product = platform_product(store, SHOP_ID)
    sim_post(sim, "mutate", {"products": [SHOP_ID], "fields": {"description": LONG}})
    edit_platform(product, description="Platform words")
    storesync.run_sync_now(store)
    conflict = SyncConflict.objects.get(store=store, status="pending")

    console.login("operator", PASSWORD)
    console.goto("/admin/storesync/syncconflict/")
    console.page.wait_for_selector("#result_list")
    row = console.page.locator(f'#result_list tbody tr:has(a[href*="/{conflict.pk}/change/"])')
    with console.page.expect_navigation():
        row.locator("a.lineage-link").click()
    console.page.wait_for_selector("#record-lineage")
    assert_fits(console, "a record's lineage", must_show="#lineage-conflicts table")

    assert console.page.inner_text("#record-lineage .lineage-shop-id").strip() == str(SHOP_ID)
    assert product.sku in console.page.inner_text("#record-lineage h2")
    pending = console.page.locator(f'#lineage-conflicts tr[data-conflict="{conflict.pk}"]')
    assert "description" in pending.inner_text() and "Platform words" in pending.inner_text()
    with console.page.expect_navigation():
        pending.locator("a").first.click()
    console.page.wait_for_selector("#conflict-side-by-side")
