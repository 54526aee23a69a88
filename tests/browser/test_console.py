"""The operators' console in a real browser: log in through the form, read the dashboard, start an
image sync and watch it finish on a real Celery worker, settle a conflict side by side, requeue a
dead letter, and never see a secret on any page (the ``console`` fixture checks every page)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from nasync.models import Document
from photosync.models import ImageSyncRun, ProductPhoto
from storesync import services as storesync
from storesync.models import DeadLetter, SyncConflict
from tests.browser.conftest import PASSWORD, assert_no_secret, screenshots_of, shop_key
from tests.plugins.simulator import sim_get, sim_post
from tests.storesync.conftest import configure, edit_platform, platform_product


def settle(store, sim):
    """A store whose products are synced once both ways (full sync, manual conflict resolution)."""
    configure(store, products={"conflict_resolution": "manual_resolution"})
    job = storesync.run_sync_now(store, sync_type="full")
    assert job.status == "succeeded", job.message


@pytest.mark.worker
def test_log_in_open_the_dashboard_and_watch_an_image_sync_finish(
    console, operator, hub_worker, make_shop_simulator, make_console_store
):
    sim = make_shop_simulator(products=30, latency_ms=20, api_key=shop_key())
    store = make_console_store(sim, "north")

    console.login("operator", PASSWORD)
    console.page.click("#open-dashboard")
    console.page.wait_for_selector("table#dashboard")
    console.snap("dashboard before the sync")
    assert console.cell("north", "image_sync").inner_text().startswith("none")
    assert console.cell("north", "catalog_import").inner_text().startswith("Succeeded")

    console.page.click('tr[data-store="north"] th a')  # the store's page: its actions
    console.snap("the store")
    console.page.click("a:has-text('Sync images')")
    console.page.click("#dialog button[type=submit]")  # confirmed: the action runs on this POST
    console.page.wait_for_selector("text=image sync queued")
    console.snap("image sync queued")

    console.dashboard("dashboard while the sync runs")
    seen: list[str] = []

    def finished() -> bool:
        seen.append(console.cell("north", "image_sync").inner_text().split()[0])
        return seen[-1] == "Succeeded"

    console.wait_for(finished)
    console.snap("dashboard after the sync")
    assert set(seen) <= {"Queued", "Running", "Succeeded"}, seen
    assert "0/30 synced" in console.cell("north", "edge_coverage").inner_text()  # no edge has reported yet
    console.cell("north", "image_sync").locator("a.rsh-state").click()
    console.snap("the finished run")
    assert "Succeeded" in console.page.inner_text("#content")

    run = ImageSyncRun.objects.get(store=store)
    assert (run.status, run.trigger, run.requested_by_id) == ("succeeded", "admin", operator.pk)
    assert ProductPhoto.objects.filter(store=store, deleted_at__isnull=True).count() == 30
    assert len(screenshots_of(console.name)) >= 6


def test_a_conflict_opened_side_by_side_and_resolved(console, operator, make_shop_simulator, make_console_store):
    sim = make_shop_simulator(products=8, customers=2, orders=2, api_key=shop_key())
    store = make_console_store(sim, "south")
    settle(store, sim)
    sim_post(sim, "mutate", {"products": [3], "fields": {"price": "11.000000"}})
    edit_platform(platform_product(store, 3), price="22.000000")
    storesync.run_sync_now(store)
    conflict = SyncConflict.objects.get(store=store, status="pending")

    console.login("operator", PASSWORD)
    console.goto("/admin/storesync/syncconflict/")  # the inbox: pending conflicts by default
    console.snap("pending conflicts")
    row = console.page.locator("#result_list tbody tr")
    assert row.count() == 1 and "11.000000" in row.inner_text() and "22.000000" in row.inner_text()

    row.locator(f'a[href*="/syncconflict/{conflict.pk}/change/"]').click()
    console.snap("the conflict side by side")
    side = console.page.locator("#conflict-side-by-side")
    assert "11.000000" in side.locator(".conflict-store").inner_text()
    assert "22.000000" in side.locator(".conflict-platform").inner_text()
    with console.page.expect_navigation():
        side.locator("button[value=use_store_value]").click()
    console.snap("conflict resolved")
    page = console.page.inner_text("body")
    assert "1 conflict(s) resolved" in page and "No pending conflict left." in page

    conflict.refresh_from_db()
    assert (conflict.status, conflict.resolution, conflict.resolved_by_id) == (
        "resolved",
        "use_store_value",
        operator.pk,
    )
    assert platform_product(store, 3).price == Decimal("11")
    assert sim_get(sim, "products/3")["price"] == "11.000000"
    assert console.page.locator("#result_list").count() == 0  # the inbox is empty


@pytest.mark.worker
def test_a_dead_letter_requeued_from_the_console(
    console, operator, hub_worker, make_shop_simulator, make_console_store
):
    sim = make_shop_simulator(products=8, customers=2, orders=2, api_key=shop_key())
    store = make_console_store(sim, "east")
    settle(store, sim)
    edit_platform(platform_product(store, 2), price="21.000000")
    sim_post(sim, "config", {"fail_next": {"count": 1, "status": 400, "method": "PATCH"}})
    storesync.run_sync_now(store)
    letter = DeadLetter.objects.get(store=store)

    console.login("operator", PASSWORD)
    console.goto("/admin/storesync/deadletter/")  # owed letters by default
    console.snap("dead letters")
    message = console.run_action("requeue", letter.pk)
    console.snap("dead letter requeued")
    assert "Requeued in 1 job(s)" in message

    console.goto("/admin/storesync/deadletter/?status__exact=all")
    row = console.page.locator(f'#result_list tbody tr:has(a[href*="/deadletter/{letter.pk}/change/"])')
    console.wait_for(lambda: 'data-state="resolved"' in row.inner_html() and "succeeded" in row.inner_text().lower())
    console.snap("the requeued letter resolved")
    letter.refresh_from_db()
    assert letter.status == "resolved" and letter.requeue_job.status == "succeeded"
    assert sim_get(sim, "products/2")["price"] == "21.000000"


def test_no_console_page_shows_a_secret(
    console, operator, make_shop_simulator, make_console_store, known_secrets, settings, tmp_path: Path
):
    sim = make_shop_simulator(products=4, customers=2, orders=2, api_key=shop_key())
    store = make_console_store(sim, "west")
    webhook_secret = "whsec_" + shop_key()
    configure(store, products={}, webhook_config={"endpoint": "http://127.0.0.1:9/hook", "secret": webhook_secret})
    key = tmp_path / "nas-key-file-do-not-show"
    key_text = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + shop_key() + "\n-----END OPENSSH PRIVATE KEY-----\n"
    key.write_text(key_text)
    key.chmod(0o600)
    settings.NAS_HOST, settings.NAS_USER, settings.NAS_PATH = "nas.example.internal", "hub", "/volume1/invoices"
    settings.NAS_SSH_KEY = str(key)
    known_secrets.extend([webhook_secret, str(key), key_text.splitlines()[1], settings.SECRET_KEY])
    Document.objects.create(file="documents/2026/01/01/a.pdf", content_type="application/pdf", sha256="0" * 64)

    console.login("operator", PASSWORD)
    console.dashboard()
    assert "no photos" in console.cell("west", "edge_coverage").inner_text()
    assert "Not yet on the NAS" in console.page.locator('[data-panel="nas"]').inner_text()
    pages = [
        ("the store", f"/admin/catalog/store/{store.pk}/change/"),
        ("the stores", "/admin/catalog/store/"),
        ("the sync configuration", f"/admin/storesync/syncconfig/{store.sync_config.pk}/change/"),
        ("the sync configurations", "/admin/storesync/syncconfig/"),
        ("the NAS configuration", "/admin/nasync/document/nas/"),
        ("the documents", "/admin/nasync/document/"),
        ("the import run", f"/admin/catalog/importrun/{store.catalog_importrun_jobs.get().pk}/change/"),
        ("the next prune", "/admin/retention/"),
    ]
    for label, path in pages:
        console.goto(path)
        console.snap(label)
        assert console.page.locator("#content").count() == 1, path
    # The key is only said to be set; the fixture's teardown searches every page above for the secrets.
    assert "set (file readable)" in console.pages[next(k for k in console.pages if "NAS configuration" in k)]
    assert sim.url in console.pages[next(k for k in console.pages if k.endswith(f"{store.pk}/change/)"))]


def test_the_secret_search_finds_a_secret_in_a_page():
    assert_no_secret({"clean page": "<p>nothing here</p>"}, ["s3cr3t"])
    with pytest.raises(AssertionError, match="s3cr3t"):
        assert_no_secret({"leaky page": "<input value='s3cr3t'>"}, ["s3cr3t"])
