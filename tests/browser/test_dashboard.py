"""The console's dashboard, index and store page in Chromium at 1366x768 and 1920x1080: no
horizontal scrolling, failed states in the danger colour with their words, progress that moves
without a reload, and the store page's actions (a real image sync on the Celery worker)."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from photosync.imagesync.runner import ImageSyncRunner
from photosync.models import ImageSyncRun
from tests.browser.conftest import PASSWORD, screenshots_of, shop_key
from tests.operations.test_dashboard import job, populate

VIEWPORTS = [(1366, 768), (1920, 1080)]
DANGER = "rgb(185, 28, 28)"  # --rsh-danger in operations/static/console/console.css


def fits_horizontally(console) -> tuple[int, int]:
    return console.page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")


def mark_page(console) -> None:
    """A marker that a navigation or reload would wipe out."""
    console.page.evaluate("window.__stillTheSamePage = true")


def same_page(console) -> bool:
    return console.page.evaluate("window.__stillTheSamePage === true")


def wait_until(condition, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_the_dashboard_and_index_fit_and_show_failures_in_the_danger_colour_with_words(
    console, operator, make_store, width, height
):
    stores = [make_store(code) for code in ("north", "south", "a-store-with-a-rather-long-code-name")]
    populate(stores)  # failed and running image syncs, partial store syncs, conflicts, dead letters, NAS backlog
    for store in stores:
        job(ImageSyncRun, store, status="failed")  # the newest image sync failed
    console.page.set_viewport_size({"width": width, "height": height})
    console.login("operator", PASSWORD)
    for label, path in (("index", "/admin/"), ("dashboard", "/admin/dashboard/")):
        console.goto(path)
        console.page.wait_for_selector("#attention")
        console.snap(f"{label} {width}x{height}")
        scroll, client = fits_horizontally(console)
        assert scroll <= client, f"{path} is {scroll}px wide in a {client}px window"
        failing = console.page.locator('#attention li[data-attention="image-sync-failing"] .rsh-state')
        assert failing.inner_text() == "Failed"
        assert failing.evaluate("node => getComputedStyle(node).color") == DANGER
    failed_cell = console.cell("north", "image_sync").locator("a.rsh-state")
    assert failed_cell.inner_text() == "Failed"
    assert failed_cell.evaluate("node => getComputedStyle(node).color") == DANGER  # a:link does not win
    assert console.cell("north", "image_sync").locator(".rsh-strip span").count() == 24
    assert console.page.locator("#trends canvas").count() == 2
    console.goto(f"/admin/catalog/store/{stores[0].pk}/change/")
    console.page.wait_for_selector("#store-overview")
    console.snap(f"store page {width}x{height}")
    scroll, client = fits_horizontally(console)
    assert scroll <= client
    assert console.page.locator("#store-health").inner_text() == "Failing"
    assert console.page.locator("#store-health").evaluate("node => getComputedStyle(node).color") == DANGER


def test_a_running_job_progress_moves_without_a_reload(console, operator, make_store):
    north = make_store("north")
    run = ImageSyncRun.objects.create(
        kind=ImageSyncRun.KIND,
        store=north,
        lock_key=f"{ImageSyncRun.KIND}:{north.pk}",
        status="running",
        started_at=timezone.now(),
        items_total=100,
    )
    runner = ImageSyncRunner(run)
    runner.progress(processed=10)
    console.page.set_viewport_size({"width": 1366, "height": 768})
    console.login("operator", PASSWORD)
    pages = (
        ("/admin/dashboard/", "10/100", "60/100", "60.0"),
        (f"/admin/catalog/store/{north.pk}/change/", "60/100", "90/100", "90.0"),
    )
    for path, before, after, percent in pages:
        console.goto(path)
        bar = console.page.locator(f'#running li[data-job="{run.pk}"]')
        assert bar.locator(".rsh-job-text").inner_text().startswith(f"{before} records")
        console.snap(f"progress at {before}")
        mark_page(console)
        runner.progress(processed=50 if before == "10/100" else 30)
        text = bar.locator(".rsh-job-text")
        wait_until(lambda text=text, after=after: text.inner_text().startswith(f"{after} records"))
        assert same_page(console), "the page was reloaded"
        assert float(bar.locator(".rsh-bar").get_attribute("aria-valuenow")) == float(percent)
        assert "records/s" in bar.inner_text() and "left" in bar.inner_text()
        console.snap(f"progress at {after}")
    assert len(screenshots_of(console.name)) >= 4


@pytest.mark.worker
def test_the_store_page_starts_an_image_sync_and_follows_it(
    console, operator, hub_worker, make_shop_simulator, make_console_store
):
    sim = make_shop_simulator(products=30, latency_ms=40, api_key=shop_key())
    store = make_console_store(sim, "north")
    console.page.set_viewport_size({"width": 1366, "height": 768})
    console.login("operator", PASSWORD)
    console.goto(f"/admin/catalog/store/{store.pk}/change/")
    console.snap("the store page")
    for label in ("Import products", "Sync images", "Sync actions"):
        assert console.page.locator(f"a:has-text('{label}')").count() >= 1, label
    console.page.click("a:has-text('Sync actions')")  # the dropdown of the sync actions
    for label in ("Sync now", "Full sync", "Pause sync", "Resume sync", "Requeue owed records"):
        # Alpine shows the menu on its next frame: wait for it, not only look (a timeout fails).
        console.page.locator(f"nav a:has-text('{label}')").wait_for(state="visible", timeout=10_000)
    console.snap("the store sync actions")
    console.page.click("a:has-text('Sync actions')")  # closed again
    console.page.click("a:has-text('Sync images')")
    console.page.wait_for_selector("#dialog button[type=submit]")
    console.snap("confirm the image sync")
    console.page.click("#dialog button[type=submit]")
    console.page.wait_for_selector("text=image sync queued")
    console.snap("image sync queued")
    mark_page(console)
    # Running, then gone from the running list once finished: followed without a reload.
    wait_until(lambda: console.page.locator(".rsh-jobs-empty").is_visible(), timeout=90)
    assert same_page(console)
    run = ImageSyncRun.objects.get(store=store)
    assert (run.status, run.trigger, run.requested_by_id) == ("succeeded", "admin", operator.pk)
    console.page.reload()
    console.snap("the store page after the sync")
    assert console.page.locator('#store-runs tr[data-column="image_sync"] .rsh-state').inner_text() == "Succeeded"
