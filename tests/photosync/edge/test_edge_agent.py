"""The edge agent against a live head office over real HTTP (a fault-injecting proxy between)."""

import contextlib
import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from catalog.roles import Role
from config.jobs import JobStatus
from photosync.distribution.feed import tombstone_photos
from photosync.distribution.selectors import edge_coverage
from photosync.edge.client import HOConfig
from photosync.edge.service import edge_sync_now
from photosync.models import EdgePhoto, EdgeStatusReport, EdgeSyncRun, EdgeSyncState, ProductPhoto
from tests.photosync.conftest import image_bytes, replace_photo_bytes
from tests.photosync.edge.ho_proxy import HOProxy

PASSWORD = "pass-Word-123"


@pytest.fixture
def edge_settings(settings, tmp_path):
    settings.EDGE_RETRY_BACKOFF = 0.01
    settings.EDGE_HTTP_RETRIES = 3
    settings.EDGE_HTTP_TIMEOUT = 10.0
    settings.EDGE_SYNC_PAGE_SIZE = 7  # several pages even for a small catalogue
    settings.EDGE_REPORT_BATCH = 100
    settings.PHOTO_SYNC_WATERMARK_LAG = 0.0
    settings.EDGE_PHOTO_ROOT = str(tmp_path / "edge")
    return settings


@pytest.fixture
def proxy(live_server):
    proxy = HOProxy(live_server.url)
    yield proxy
    proxy.close()


@pytest.fixture
def ho(transactional_db, edge_settings, make_user, make_store, make_photo, proxy):
    """A head office store with 20 photos, its edge user, and the edge's HO configuration."""
    store = make_store("edge-store")
    make_user("edge", role=Role.EDGE, stores=[store])
    photos = [make_photo(store) for _ in range(20)]
    config = HOConfig(proxy.url, "edge", PASSWORD, str(store.uuid))
    return type(
        "HO",
        (),
        {
            "store": store,
            "photos": photos,
            "config": config,
            "proxy": proxy,
            "root": Path(edge_settings.EDGE_PHOTO_ROOT),
        },
    )


def sync(ho, **kwargs):
    return edge_sync_now(config=ho.config, root=ho.root, **kwargs)


def local_files(root: Path) -> dict[str, str]:
    """{relative path: md5} of every file the edge holds (not the incoming folder)."""
    return {
        str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and ".incoming" not in p.parts
    }


def assert_edge_matches_ho(ho):
    live = {str(p.pk): p for p in ProductPhoto.objects.filter(store=ho.store, deleted_at__isnull=True)}
    local = {str(p.pk): p for p in EdgePhoto.objects.all()}
    assert set(local) == set(live)
    files = local_files(ho.root)
    for photo_id, photo in live.items():
        row = local[photo_id]
        assert (row.checksum, row.version) == (photo.checksum, photo.version)
        assert files[row.local_key] == photo.checksum
    assert len(files) == len(live)


# The spec's own example, as written


SPEC_FULL_SYNC_FLOW = """
headers = {
    'Authorization': f'Bearer {TOKEN}'
}

# 1. Get list of photos
response = requests.get(
    f"{BASE_URL}/api/v1/sync/product-photos/",
    params={'store_id': STORE_ID, 'limit': 100, 'offset': 0},
    headers=headers
)

photos = response.json()['data']['photos']

# 2. Download each photo
for photo in photos:
    photo_id = photo['id']
    expected_checksum = photo['checksum']

    # Download binary
    response = requests.get(
        f"{BASE_URL}/api/v1/sync/product-photos/{photo_id}/download/",
        params={'store_id': STORE_ID},
        headers=headers
    )

    image_data = response.content

    # Verify checksum
    actual_checksum = hashlib.md5(image_data).hexdigest()
    if actual_checksum == expected_checksum:
        print(f"✓ {photo['filename']} - Checksum OK")
        # Save to database...
    else:
        print(f"✗ {photo['filename']} - Checksum mismatch!")
"""


def test_the_specs_full_sync_flow_prints_checksum_ok_for_every_photo(ho, live_server):
    import requests

    token = requests.post(
        f"{live_server.url}/api/v1/auth/token/", json={"username": "edge", "password": PASSWORD}
    ).json()["access"]
    namespace = {
        "requests": requests,
        "hashlib": hashlib,
        "BASE_URL": live_server.url,
        "STORE_ID": str(ho.store.uuid),
        "TOKEN": token,
    }
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(SPEC_FULL_SYNC_FLOW, namespace)
    lines = out.getvalue().splitlines()
    assert len(lines) == 20 and all(line.endswith("Checksum OK") for line in lines)


# Passes


def test_a_full_sync_copies_every_photo_and_confirms_it_to_head_office(ho):
    run, summary = sync(ho)

    assert summary.ok and summary.full and summary.downloaded == 20 and summary.failed == 0
    assert run.status == JobStatus.SUCCEEDED and run.counters["downloaded"] == 20
    assert_edge_matches_ho(ho)
    coverage = edge_coverage(ho.store)
    assert (coverage.synced, coverage.pending, coverage.failed) == (20, 0, 0)
    assert EdgePhoto.objects.filter(reported_version=1).count() == 20
    state = EdgeSyncState.objects.get()
    assert state.watermark is not None and summary.watermark
    # Several pages, by cursor; at most 5 downloads at once is the pool size.
    lists = ho.proxy.requests("GET", "/api/v1/sync/product-photos/?")
    assert len(lists) == 3 and all("cursor=" in e["path"] for e in lists[1:])
    assert not list((ho.root / ".incoming").glob("*"))


def test_an_incremental_pass_moves_only_what_changed(ho, make_photo):
    sync(ho)
    ho.proxy.log.clear()
    photos = ho.photos
    replace_photo_bytes(photos[3], image_bytes(900))
    added = make_photo(ho.store)
    tombstone_photos(ProductPhoto.objects.filter(pk=photos[5].pk))
    photos[6].product.delete()
    old_key = EdgePhoto.objects.get(pk=photos[3].pk).local_key

    run, summary = sync(ho)

    assert summary.ok and not summary.full
    assert (summary.downloaded, summary.deleted, summary.failed) == (2, 2, 0)
    downloaded = {e["path"].split("/")[5] for e in ho.proxy.downloads()}
    assert downloaded == {str(photos[3].pk), str(added.pk)}
    assert summary.bytes == ProductPhoto.objects.get(pk=photos[3].pk).size + added.size
    assert_edge_matches_ho(ho)
    assert not (ho.root / old_key).exists()
    assert edge_coverage(ho.store).synced == 19

    ho.proxy.log.clear()
    _, again = sync(ho)  # nothing changed: nothing moves
    assert again.ok and again.downloaded == 0 and not ho.proxy.downloads()


def test_an_interrupted_pass_loses_nothing_and_the_next_one_resumes(ho):
    ho.proxy.stop_after_downloads = 6

    run, summary = sync(ho)

    assert not summary.complete and not summary.ok and run.status == JobStatus.FAILED
    assert EdgeSyncState.objects.get().watermark is None
    held = EdgePhoto.objects.count()
    assert 1 <= held < 20
    for photo in EdgePhoto.objects.all():  # what is held is whole and verified
        assert hashlib.md5((ho.root / photo.local_key).read_bytes()).hexdigest() == photo.checksum

    ho.proxy.down, ho.proxy.stop_after_downloads = False, None
    ho.proxy.log.clear()
    _, resumed = sync(ho)

    assert resumed.ok and resumed.downloaded == 20 - held
    assert len(ho.proxy.downloads()) == 20 - held
    assert_edge_matches_ho(ho)
    assert edge_coverage(ho.store).synced == 20  # the reports lost with the outage were sent again


def test_corrupted_bytes_are_never_stored_and_are_retried_next_pass(ho):
    bad = ho.photos[4]
    ho.proxy.corrupt_ids.add(str(bad.pk))

    run, summary = sync(ho)

    assert summary.complete and summary.failed == 1 and not summary.ok and run.status == JobStatus.PARTIAL
    assert summary.errors[0]["message"].startswith(f"checksum mismatch: expected {bad.checksum}")
    assert not EdgePhoto.objects.filter(pk=bad.pk).exists()
    assert bad.checksum not in local_files(ho.root).values()
    assert not list((ho.root / ".incoming").glob("*"))
    report = EdgeStatusReport.objects.get(photo=bad)
    assert report.status == "failed" and "checksum mismatch" in report.error
    assert EdgeSyncState.objects.get().watermark is None  # never past a failed pass

    ho.proxy.corrupt_ids.clear()
    _, retried = sync(ho)
    assert retried.ok and retried.downloaded == 1
    assert EdgeStatusReport.objects.get(photo=bad).status == "synced"
    assert_edge_matches_ho(ho)


def test_the_watermark_never_moves_past_a_failed_pass(ho):
    sync(ho)
    first = EdgeSyncState.objects.get().watermark
    later = timezone.now() + timedelta(seconds=1)
    replace_photo_bytes(ho.photos[0], image_bytes(901))
    ProductPhoto.objects.filter(pk=ho.photos[0].pk).update(updated_at=later)
    ho.proxy.corrupt_ids.add(str(ho.photos[0].pk))
    _, failed = sync(ho)
    assert not failed.ok and EdgeSyncState.objects.get().watermark == first
    ho.proxy.corrupt_ids.clear()
    _, ok = sync(ho)
    assert ok.ok and EdgeSyncState.objects.get().watermark > first


def test_an_access_token_expiring_mid_pass_is_refreshed(ho, settings, monkeypatch):
    from rest_framework_simplejwt.tokens import AccessToken

    # Head office issues access tokens that live one second (simplejwt reads the lifetime at import).
    monkeypatch.setattr(AccessToken, "lifetime", timedelta(seconds=1))
    settings.EDGE_SYNC_CONCURRENCY = 2
    ho.proxy.latency = 0.15

    _, summary = sync(ho)

    assert summary.ok and summary.downloaded == 20
    assert any(e["status"] == 401 for e in ho.proxy.log)
    assert ho.proxy.requests("POST", "/api/v1/auth/token/refresh")
    assert len([e for e in ho.proxy.requests("POST") if e["path"] == "/api/v1/auth/token/"]) == 1
    assert_edge_matches_ho(ho)


def test_transient_errors_and_a_broken_download_are_retried_and_resumed(ho):
    ho.proxy.fail_next = 3
    ho.proxy.cut_once_ids.add(str(ho.photos[2].pk))

    _, summary = sync(ho)

    assert summary.ok and summary.failed == 0
    assert sum(1 for e in ho.proxy.log if e["status"] == 503) == 3
    resumed = [e for e in ho.proxy.log if e["range"] and str(ho.photos[2].pk) in e["path"]]
    assert resumed and resumed[0]["status"] == 206
    assert_edge_matches_ho(ho)


def test_a_head_office_that_stays_down_fails_the_pass(ho):
    ho.proxy.down = True
    run, summary = sync(ho)
    assert not summary.complete and "could not be reached" in summary.error
    assert run.status == JobStatus.FAILED and EdgeSyncState.objects.get().watermark is None


# The command and the beat task


def test_the_command_prints_one_line_and_fails_with_a_non_zero_status(ho, settings):
    settings.HO_URL, settings.HO_USERNAME, settings.HO_PASSWORD = ho.proxy.url, "edge", PASSWORD
    settings.HO_STORE_ID = str(ho.store.pk)
    out = io.StringIO()
    call_command("edge_sync", stdout=out)
    assert out.getvalue().startswith("edge sync (full) complete: 20 listed, 20 downloaded")

    # --full removes what head office no longer has at all (a tombstone pruned away).
    gone = ho.photos[0]
    ProductPhoto.objects.filter(pk=gone.pk).delete()
    out = io.StringIO()
    call_command("edge_sync", "--full", stdout=out)
    assert "1 deleted" in out.getvalue() and not EdgePhoto.objects.filter(pk=gone.pk).exists()

    ho.proxy.corrupt_ids.add(str(ho.photos[1].pk))
    replace_photo_bytes(ho.photos[1], image_bytes(902))
    with pytest.raises(CommandError, match="1 failed.*checksum mismatch"):
        call_command("edge_sync", "--full", stdout=io.StringIO())
    assert EdgeSyncRun.objects.filter(status=JobStatus.PARTIAL).count() == 1

    settings.HO_PASSWORD = "wrong"
    with pytest.raises(CommandError, match="refused the login"):
        call_command("edge_sync", stdout=io.StringIO())


def test_the_beat_task_does_nothing_outside_edge_mode(settings, db):
    from photosync.tasks import edge_sync_task

    settings.EDGE_MODE = False
    assert edge_sync_task() is None and not EdgeSyncRun.objects.exists()


def test_the_demo_pass_pulls_the_store_from_this_hub_over_http(
    transactional_db, edge_settings, make_store, make_photo, tmp_path
):
    from operations.demo.edge import run_demo_pass

    store = make_store("demo-edge-store")
    for _ in range(4):
        make_photo(store)
    demo = run_demo_pass(store, root=tmp_path / "demo-edge")
    assert demo.summary.ok and demo.summary.downloaded == 4
    assert (demo.coverage.synced, demo.coverage.photos) == (4, 4)
    assert len(local_files(tmp_path / "demo-edge")) == 4


def test_the_beat_task_runs_an_incremental_pass_in_edge_mode(ho, settings):
    from photosync.tasks import edge_sync_task

    settings.EDGE_MODE = True
    settings.HO_URL, settings.HO_USERNAME, settings.HO_PASSWORD = ho.proxy.url, "edge", PASSWORD
    settings.HO_STORE_ID = str(ho.store.uuid)
    result = edge_sync_task()
    assert result["ok"] and "20 downloaded" in result["summary"]
    assert EdgeSyncRun.objects.get().trigger == "schedule"
