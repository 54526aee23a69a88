"""The operators' dashboard (operations/console.py, fed by the config/dashboard.py registry): staff only, one row per visible store, every
link a working filtered admin list, a fixed number of queries whatever the number of stores."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import ImportRun, Product
from catalog.roles import Role
from config import dashboard
from nasync.models import Document, NasSyncRun
from photosync.models import EdgeStatusReport, ImageSyncRun, ProductPhoto
from storesync.models import DeadLetter, StoreSyncJob, SyncConflict

pytestmark = pytest.mark.django_db

URL = "/admin/dashboard/"


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def job(model, store, status="succeeded", **fields):
    now = timezone.now()
    finished = now if status not in ("queued", "running") else None
    return model.objects.create(
        kind=model.KIND,
        store=store,
        lock_key=f"{model.KIND}:{store.pk if store else '*'}",
        status=status,
        started_at=now,
        finished_at=finished,
        **fields,
    )


def populate(stores) -> None:
    for number, store in enumerate(stores):
        job(ImportRun, store)
        job(ImageSyncRun, store, status="failed")
        job(ImageSyncRun, store, status="running", items_total=10, items_processed=4)  # the newest
        job(StoreSyncJob, store, status="partial")
        for record in range(number % 3):
            SyncConflict.objects.create(
                store=store,
                entity_type="products",
                record_pk=record,
                field="price",
                store_value="1",
                platform_value="2",
            )
        DeadLetter.objects.create(
            store=store,
            entity_type="products",
            operation="update_store",
            record_pk=1,
            error="400",
            code="INVALID_DATA_FORMAT",
        )
    job(NasSyncRun, None)
    Document.objects.create(file="documents/2026/01/01/a.pdf", content_type="application/pdf", sha256="0" * 64)
    Document.objects.create(
        file="documents/2026/01/01/b.pdf",
        content_type="application/pdf",
        sha256="1" * 64,
        held_for_operator=True,
        sync_error="ssh: connection refused",
    )


def links(html: str) -> list[str]:
    return sorted({unescape(href) for href in re.findall(r'href="(/admin/[^"]+)"', html)})


def cell(html: str, store_code: str, column: str) -> str:
    row = re.search(rf'<tr data-store="{store_code}">(.*?)</tr>', html, re.S).group(1)
    return re.search(rf'<td data-column="{column}">(.*?)</td>', row, re.S).group(1)


def test_anonymous_and_non_staff_users_are_sent_to_the_login(client, make_user):
    assert client.get(URL)["Location"].startswith("/admin/login/")
    client.force_login(make_user("clerk", role=Role.OPERATOR))
    assert client.get(URL)["Location"].startswith("/admin/login/")


def test_the_admin_index_links_to_the_dashboard(client, superuser):
    client.force_login(superuser)
    assert f'href="{URL}"' in client.get("/admin/").content.decode()


def test_each_store_shows_its_last_jobs_counts_and_nas_backlog(client, superuser, make_store):
    north, south = make_store("north"), make_store("south")
    populate([north, south])
    client.force_login(superuser)
    html = client.get(URL).content.decode()

    assert "Running" in cell(html, "north", "image_sync") and "4/10 items" in cell(html, "north", "image_sync")
    assert "Partially succeeded" in cell(html, "south", "store_sync")
    assert ">0<" in cell(html, "north", "conflicts") and ">1<" in cell(html, "south", "conflicts")
    assert "status__exact=pending" in cell(html, "south", "conflicts")
    assert ">1<" in cell(html, "north", "dead_letters")
    assert "no photos" in cell(html, "north", "edge_coverage")
    assert 'data-panel="nas"' in html and "Not yet on the NAS" in html


def test_edge_coverage_counts_the_photos_the_edge_confirmed_at_their_current_version(
    client, superuser, make_store, settings
):
    north = make_store("north")
    photos = [
        ProductPhoto.objects.create(
            store=north,
            product=Product.objects.create(store=north, name=f"P{n}"),
            object_key=f"products/x/{n}.jpg",
            filename=f"{n}.jpg",
            size=10,
            content_type="image/jpeg",
            checksum=str(n),
            version=2,
        )
        for n in range(4)
    ]
    EdgeStatusReport.objects.create(store=north, photo=photos[0], status="synced", version=2)
    EdgeStatusReport.objects.create(store=north, photo=photos[1], status="synced", version=1)  # an older version
    EdgeStatusReport.objects.create(store=north, photo=photos[2], status="failed", version=2, error="disk full")
    client.force_login(superuser)
    html = client.get(URL).content.decode()
    coverage = cell(html, "north", "edge_coverage")
    assert "25.0%" in coverage and "1/4 synced, 1 failed" in coverage and "tone-bad" in coverage
    assert "edge_confirmed=no" in coverage
    assert 'data-panel="edge_pull"' not in html  # head office: no pulls of its own
    settings.EDGE_MODE = True
    assert 'data-panel="edge_pull"' in client.get(URL).content.decode()


def test_every_dashboard_link_opens_a_filtered_list_without_error(client, superuser, make_store):
    populate([make_store("north"), make_store("south")])
    client.force_login(superuser)
    targets = [url for url in links(client.get(URL).content.decode()) if not url.startswith("/admin/logout")]
    assert any("store__id__exact" in url for url in targets) and any("state=held" in url for url in targets)
    for url in targets:
        response = client.get(url)
        # An unknown filter makes the admin redirect with ?e=1: every filter must be a real one.
        assert response.status_code == 200, (url, response.status_code, response.get("Location"))


def test_a_staff_operator_sees_only_their_stores_and_the_sections_they_may_view(client, make_user, make_store):
    mine, theirs = make_store("mine"), make_store("theirs")
    populate([mine, theirs])
    operator = make_user("op", role=Role.OPERATOR, stores=[mine])
    operator.is_staff = True
    operator.save()
    client.force_login(operator)
    html = client.get(URL).content.decode()
    assert 'data-store="mine"' in html and 'data-store="theirs"' not in html
    for column in dashboard.columns_for(operator):
        assert not column.permission or operator.has_perm(column.permission)


def test_the_query_count_does_not_grow_with_the_number_of_stores(
    client, superuser, make_store, django_assert_max_num_queries
):
    client.force_login(superuser)
    populate([make_store() for _ in range(2)])
    client.get(URL)  # warm: autodiscovery, content types
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    populate([make_store() for _ in range(18)])
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(URL).content.decode()
    assert html.count("<tr data-store=") == 20
    # 41: one query per attention source (held sync jobs joined conflicts, dead letters, alerts).
    assert len(few.captured_queries) <= 41, [q["sql"][:120] for q in few.captured_queries]


def test_a_new_section_is_one_registration(client, superuser, make_store):
    make_store("north")
    dashboard.register_column(
        "probe", "Probe", lambda stores: {s.pk: dashboard.Cell(f"probe-{s.code}") for s in stores}
    )
    try:
        client.force_login(superuser)
        assert "probe-north" in cell(client.get(URL).content.decode(), "north", "probe")
    finally:
        dashboard._columns.pop("probe")


def test_the_next_prune_page_counts_what_retention_would_delete(client, superuser, make_user, make_store, settings):
    store = make_store("north")
    old = timezone.now() - timedelta(days=settings.RETENTION_DAYS + 1)
    ImportRun.objects.filter(pk=job(ImportRun, store).pk).update(finished_at=old)
    client.force_login(superuser)
    html = client.get("/admin/retention/").content.decode()
    row = re.search(r'<tr data-rule="catalog import runs">(.*?)</tr>', html, re.S).group(1)
    assert "<td>1</td>" in row
    assert 'href="/admin/retention/"' in client.get(URL).content.decode()
    client.force_login(make_user("viewer", role=Role.VIEWER))
    assert client.get("/admin/retention/")["Location"].startswith("/admin/login/")


# --- issue 16 part A: attention first, live progress, trends, the store as a hub ----------------


def attention_item(html: str, slug: str) -> str:
    match = re.search(rf'<li data-attention="{slug}">(.*?)</li>', html, re.S)
    assert match, f"no attention item {slug}"
    return match.group(1)


def test_a_store_that_failed_five_times_then_succeeded_still_needs_attention(client, superuser, make_store):
    north = make_store("north")
    for _ in range(5):
        job(ImageSyncRun, north, status="failed")
    job(ImageSyncRun, north)  # the newest run succeeded: the old dashboard showed the store as healthy
    client.force_login(superuser)
    for page in (URL, "/admin/"):
        item = attention_item(client.get(page).content.decode(), "image-sync-failing")
        assert "rsh-tone-bad" in item and ">Failed<" in item  # colour and words
        assert "north: 5 failures, last success" in item and "never" not in item
        assert "/admin/photosync/imagesyncrun/?status__exact=failed" in unescape(item)


def test_the_attention_list_names_conflicts_owed_records_alerts_the_nas_and_silent_edges(
    client, superuser, make_store, settings
):
    from storesync.health.models import Alert, AlertRule

    settings.NAS_HOST = ""  # not configured
    north, south = make_store("north"), make_store("south")
    populate([north, south])  # 1 conflict (south), 2 dead letters, 1 held and 1 pending document
    rule = AlertRule.objects.create(key="probe", name="Error rate", threshold=1)
    now = timezone.now()
    Alert.objects.create(rule=rule, store=north, value=3, threshold=1, message="m", opened_at=now, last_seen_at=now)
    photo = ProductPhoto.objects.create(
        store=north,
        product=Product.objects.create(store=north, name="P"),
        object_key="products/x/1.jpg",
        filename="1.jpg",
        size=10,
        content_type="image/jpeg",
        checksum="1",
    )
    report = EdgeStatusReport.objects.create(store=north, photo=photo, status="synced", version=1)
    EdgeStatusReport.objects.filter(pk=report.pk).update(reported_at=now - timedelta(days=3))
    client.force_login(superuser)
    html = client.get(URL).content.decode()

    assert "Pending" in attention_item(html, "pending-conflicts") and ">1<" in attention_item(html, "pending-conflicts")
    owed = attention_item(html, "dead-letters-owed-records")
    assert ">2<" in owed and "in 2 stores" in owed and "status__in=pending%2Crequeued" in owed
    alerts = attention_item(html, "open-alerts")
    assert ">1<" in alerts and "north: Error rate" in alerts
    assert "Not configured" in attention_item(html, "nas-not-ready")
    assert ">1<" in attention_item(html, "nas-documents-held")
    assert "north: last report" in attention_item(html, "edges-silent")
    for url in links(html):
        if not url.startswith("/admin/logout"):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code, response.get("Location"))


def test_nothing_to_do_says_so_in_words(client, superuser, make_store, settings):
    settings.NAS_HOST, settings.NAS_USER, settings.NAS_PATH = "nas.example.internal", "hub", "/volume1"
    make_store("north")
    client.force_login(superuser)
    assert "Nothing needs attention." in client.get(URL).content.decode()


def test_the_progress_feed_gives_records_done_throughput_and_eta(client, superuser, make_user, make_store):
    north, south = make_store("north"), make_store("south")
    running = job(ImageSyncRun, north, status="running", items_total=100, items_processed=25)
    ImageSyncRun.objects.filter(pk=running.pk).update(started_at=timezone.now() - timedelta(seconds=10))
    client.force_login(superuser)
    jobs = client.get("/admin/dashboard/progress/").json()["jobs"]
    assert [j["id"] for j in jobs] == [str(running.pk)]
    (feed,) = jobs
    assert (feed["done"], feed["total"], feed["percent"], feed["store"]) == (25, 100, 25.0, "north")
    assert re.fullmatch(r"25/100 records, 2\.\d records/s, (\d+ seconds|about \d+ minutes?) left", feed["text"])
    assert client.get(f"/admin/dashboard/progress/?store={south.pk}").json() == {"jobs": []}
    bad = client.get("/admin/dashboard/progress/?store=north")
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION_ERROR"
    operator = make_user("op", role=Role.OPERATOR, stores=[south])
    operator.is_staff = True
    operator.save()
    client.force_login(operator)
    assert client.get(f"/admin/dashboard/progress/?store={north.pk}").json() == {"jobs": []}  # not theirs


def test_durations_are_pluralised():
    from config.activity import duration_text

    assert duration_text(1) == "1 second" and duration_text(2) == "2 seconds"
    assert duration_text(60 * 60) == "about 60 minutes" and duration_text(121 * 60) == "about 2 hours 1 minute"


def test_a_registered_panel_still_renders(client, superuser, make_store):
    make_store("north")
    dashboard.register_panel("runtime_probe", "Runtime", lambda: [("Mode", dashboard.Cell("embedded"))])
    try:
        client.force_login(superuser)
        html = client.get(URL).content.decode()
        assert 'data-panel="runtime_probe"' in html and "embedded" in html
    finally:
        dashboard._panels.pop("runtime_probe")


def test_the_trends_count_failures_conflicts_and_dead_letters_per_hour(client, superuser, make_store):
    populate([make_store("north"), make_store("south")])
    client.force_login(superuser)
    html = client.get(URL).content.decode()
    totals = re.search(r'<p class="rsh-totals" id="trend-totals">(.*?)</p>', html, re.S).group(1)
    assert "Failed jobs: 2 in 24 h, 2 in 7 days" in totals
    assert "Conflicts: 1 in 24 h" in totals and "Dead letters: 2 in 24 h" in totals
    assert 'data-type="bar"' in html and 'data-chart="nas_backlog"' in html
    assert "cdn" not in html.lower()


def test_the_store_page_is_a_hub_with_its_actions(client, superuser, make_store):
    north = make_store("north")
    populate([north])
    client.force_login(superuser)
    html = client.get(f"/admin/catalog/store/{north.pk}/change/").content.decode()
    assert 'id="store-health"' in html and "Failing" in html  # the failed image sync of the last 24 h
    assert "Dead letters (owed records)" in html and 'data-column="image_sync"' in html
    for label in ("Sync images", "Sync now", "Full sync", "Pause sync", "Resume sync", "Requeue owed records"):
        assert label in html, label
    for link in (
        "/admin/storesync/syncconflict/?store__id__exact=",
        "/admin/photosync/productphoto/?store__id__exact=",
    ):
        assert link in unescape(html)


def test_a_store_action_runs_on_post_only_through_its_service(client, superuser, make_store):
    from storesync.models import SyncConfig

    north = make_store("north")
    config = SyncConfig.objects.create(store=north)
    client.force_login(superuser)
    url = f"/admin/catalog/store/{north.pk}/pause_sync/"
    assert client.get(url).status_code == 200  # the confirmation dialog, nothing done
    config.refresh_from_db()
    assert not config.paused
    response = client.post(url, {"_form_submitted": "True"})
    assert response["HX-Redirect"] == f"/admin/catalog/store/{north.pk}/change/"
    config.refresh_from_db()
    assert config.paused
    assert "sync paused" in client.get(f"/admin/catalog/store/{north.pk}/change/").content.decode()


def test_the_store_page_reads_in_a_fixed_number_of_queries(
    client, superuser, make_store, django_assert_max_num_queries
):
    north = make_store("north")
    populate([north])
    client.force_login(superuser)
    page = f"/admin/catalog/store/{north.pk}/change/"
    client.get(page)
    with CaptureQueriesContext(connection) as few:
        assert client.get(page).status_code == 200
    for n in range(10):
        job(ImageSyncRun, north, status="failed")
        job(StoreSyncJob, north)
        SyncConflict.objects.create(store=north, entity_type="products", record_pk=n + 9, field="name", store_value="a")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(page)


def test_a_store_without_photos_never_shows_full_coverage(client, superuser, make_store):
    make_store("north")
    client.force_login(superuser)
    html = client.get("/admin/photosync/edgestatusreport/coverage/").content.decode()
    assert "no photos" in html and "100.0%" not in html


def test_a_sync_estimate_of_one_second_is_singular():
    from storesync.presenters import _duration_text

    assert _duration_text(0.4, 1.2) == "about 1 second"
    assert _duration_text(2, 2) == "about 2 seconds" and _duration_text(100, 200) == "2-3 minutes"


def test_the_runtime_panel_says_the_mode_and_whether_a_scheduler_is_alive(client, superuser, settings):
    from django.core.cache import cache

    from config.scheduler import HEARTBEAT_CACHE_KEY, record_heartbeat

    cache.delete(HEARTBEAT_CACHE_KEY)
    client.force_login(superuser)
    html = unescape(client.get(URL).content.decode())
    assert 'data-panel="runtime"' in html and "production (Celery workers and beat)" in html
    assert "not running" in html and "no tick recorded" in html

    record_heartbeat()  # as `celery beat` (config.scheduler.HubScheduler) does on its ticks
    html = unescape(client.get(URL).content.decode())
    assert "alive" in html and "last tick" in html
    assert client.get("/readyz").json()["scheduler"]["alive"] is True

    record_heartbeat(timezone.now() - timedelta(seconds=settings.SCHEDULER_STALE_AFTER + 1))
    assert "not running" in unescape(client.get(URL).content.decode())
    cache.delete(HEARTBEAT_CACHE_KEY)
