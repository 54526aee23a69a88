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
    assert len(few.captured_queries) <= 15, [q["sql"][:120] for q in few.captured_queries]


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
