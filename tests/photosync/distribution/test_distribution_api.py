"""The photo distribution API, head office side: the photo list, the download and the status report."""

import base64
import hashlib
import json
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.roles import Role
from operations import retention
from photosync.distribution.feed import tombstone_photos
from photosync.distribution.selectors import edge_coverage, unconfirmed_photos
from photosync.models import EdgeStatusReport, ProductPhoto
from tests.photosync.conftest import image_bytes, replace_photo_bytes, stored_bytes

LIST = "/api/v1/sync/product-photos/"
STATUS = "/api/v1/sync/product-photos/status/"
SPEC_FIELDS = {
    "id",
    "product_id",
    "product_sku",
    "product_name",
    "object_key",
    "filename",
    "size",
    "content_type",
    "checksum",
    "version",
    "is_primary",
    "sort_order",
    "updated_at",
    "image_url",
}


def download_url(photo) -> str:
    return f"/api/v1/sync/product-photos/{photo.pk}/download/"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def edge_user(make_user, store):
    return make_user("edge-main", role=Role.EDGE, stores=[store])


@pytest.fixture
def photos(make_photo, store):
    return [make_photo(store) for _ in range(5)]


# The list


def test_the_list_answers_the_specs_shape(api, edge_user, store, photos):
    response = api(edge_user).get(LIST, {"store_id": str(store.uuid), "limit": 2, "offset": 0})

    assert response.status_code == 200, response.content
    payload = response.json()
    assert payload["status"] == "success"
    data = payload["data"]
    assert data["total"] == 5 and data["has_more"] is True and data["next_offset"] == 2
    assert data["next_cursor"] and data["server_time"].endswith("Z")
    first = data["photos"][0]
    assert SPEC_FIELDS <= set(first) and first["deleted"] is False
    photo = photos[0]
    assert first["id"] == str(photo.pk) and first["product_id"] == str(photo.product.uuid)
    assert first["product_sku"] == photo.product.sku and first["product_name"] == photo.product.name
    assert (first["checksum"], first["size"], first["version"]) == (photo.checksum, photo.size, 1)
    assert first["image_url"].startswith("http://testserver/media/products/")
    assert api(None).get(first["image_url"]).status_code == 200  # signed: no token needed


def test_pages_by_offset_and_by_cursor_see_every_photo_once(api, edge_user, store, photos):
    client = api(edge_user)
    by_offset, offset = [], 0
    while offset is not None:
        data = client.get(LIST, {"store_id": store.pk, "limit": 2, "offset": offset}).json()["data"]
        by_offset += [p["id"] for p in data["photos"]]
        offset = data["next_offset"]
    by_cursor, cursor = [], None
    while True:
        params = {"store_id": store.pk, "limit": 2} | ({"cursor": cursor} if cursor else {})
        data = client.get(LIST, params).json()["data"]
        by_cursor += [p["id"] for p in data["photos"]]
        assert data["next_offset"] is None or cursor is None
        cursor = data["next_cursor"]
        if not data["has_more"]:
            break
    assert by_offset == by_cursor == [str(p.pk) for p in photos]


def _cursor(*items) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(items)).encode()).decode().rstrip("=")


def test_the_total_is_counted_on_the_first_page_only(api, edge_user, store, photos, make_photo):
    client = api(edge_user)
    first = client.get(LIST, {"store_id": store.pk, "limit": 2}).json()["data"]
    assert first["total"] == 5
    make_photo(store)  # joins the pass (it sorts last) without changing the total it began with
    cursor, totals = first["next_cursor"], []
    while cursor:
        with CaptureQueriesContext(connection) as queries:
            data = client.get(LIST, {"store_id": store.pk, "limit": 2, "cursor": cursor}).json()["data"]
        assert not [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
        totals.append(data["total"])
        cursor = data["next_cursor"]
    assert totals == [5, 5]  # 6 photos in 3 pages; the next pass counts 6
    assert client.get(LIST, {"store_id": store.pk, "limit": 2}).json()["data"]["total"] == 6


def test_a_cursor_without_a_total_still_pages_and_counts(api, edge_user, store, photos):
    """Cursors issued before the total rode in them: the edge finishes its pass."""
    oldest = photos[0]
    cursor = _cursor(oldest.updated_at.isoformat(), str(oldest.pk))
    data = api(edge_user).get(LIST, {"store_id": store.pk, "cursor": cursor}).json()["data"]
    assert data["total"] == 5 and [p["id"] for p in data["photos"]] == [str(p.pk) for p in photos[1:]]


@pytest.mark.parametrize("total", [-1, "5", 1.5, True, None])
def test_a_cursor_with_a_bad_total_is_refused(api, edge_user, store, photos, total):
    cursor = _cursor(photos[0].updated_at.isoformat(), str(photos[0].pk), total)
    response = api(edge_user).get(LIST, {"store_id": store.pk, "cursor": cursor})
    if total is None:  # JSON null: no total, counted
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert response.json()["message"] == "cursor is not a cursor this server issued"


def test_a_photo_changed_while_paging_by_cursor_is_neither_skipped_nor_repeated(api, edge_user, store, photos):
    client = api(edge_user)
    first = client.get(LIST, {"store_id": store.pk, "limit": 2}).json()["data"]
    replace_photo_bytes(photos[0], image_bytes(999))  # already seen: moves behind the cursor
    replace_photo_bytes(photos[3], image_bytes(998))  # not yet seen: moves to the end, still seen once
    seen, cursor = [p["id"] for p in first["photos"]], first["next_cursor"]
    while cursor:
        data = client.get(LIST, {"store_id": store.pk, "limit": 2, "cursor": cursor}).json()["data"]
        seen += [p["id"] for p in data["photos"]]
        cursor = data["next_cursor"]
    assert sorted(set(seen)) == sorted(str(p.pk) for p in photos)
    assert seen.count(str(photos[3].pk)) == 1


def test_since_lists_changes_and_tombstones(api, edge_user, store, photos):
    client = api(edge_user)
    watermark = client.get(LIST, {"store_id": store.pk}).json()["data"]["server_time"]
    later = timezone.now() + timedelta(seconds=10)  # beyond the watermark lag
    replace_photo_bytes(photos[1], image_bytes(500))
    tombstone_photos(ProductPhoto.objects.filter(pk=photos[2].pk))
    ProductPhoto.objects.filter(pk__in=[photos[1].pk, photos[2].pk]).update(updated_at=later)

    data = client.get(LIST, {"store_id": store.pk, "since": watermark}).json()["data"]
    by_id = {p["id"]: p for p in data["photos"]}
    assert str(photos[1].pk) in by_id and by_id[str(photos[1].pk)]["version"] == 2
    tombstone = by_id[str(photos[2].pk)]
    assert tombstone["deleted"] is True and tombstone["image_url"] is None and tombstone["deleted_at"]
    # Without since, a full listing never shows tombstones.
    full = client.get(LIST, {"store_id": store.pk}).json()["data"]
    assert str(photos[2].pk) not in {p["id"] for p in full["photos"]} and full["total"] == 4


def test_deleting_a_product_leaves_a_tombstone_of_its_photo(api, edge_user, store, photos):
    before = timezone.now()
    photo = photos[0]
    photo.product.delete()

    tombstone = ProductPhoto.objects.get(pk=photo.pk)
    assert tombstone.product_id is None and tombstone.deleted_at >= before and tombstone.updated_at >= before
    since = (before - timedelta(seconds=1)).isoformat()
    data = api(edge_user).get(LIST, {"store_id": store.pk, "since": since}).json()["data"]
    item = next(p for p in data["photos"] if p["id"] == str(photo.pk))
    assert item["deleted"] is True and item["product_id"] is None
    assert ProductPhoto.objects.filter(deleted_at__isnull=True).count() == 4


def test_deleting_products_in_bulk_keeps_existing_tombstones_untouched(store, make_photo):
    from catalog.models import Product

    photos = [make_photo(store) for _ in range(3)]
    old = timezone.now() - timedelta(days=3)
    ProductPhoto.objects.filter(pk=photos[0].pk).update(deleted_at=old, updated_at=old)
    Product.objects.filter(store=store).delete()
    rows = {p.pk: p for p in ProductPhoto.objects.all()}
    assert rows[photos[0].pk].deleted_at == old
    assert all(rows[p.pk].deleted_at and rows[p.pk].deleted_at > old for p in photos[1:])


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({}, 400, "store_id is required"),
        ({"store_id": ""}, 400, "store_id is required"),
        ({"store_id": "00000000-0000-0000-0000-000000000000"}, 404, "Store not found"),
        ({"store_id": "99999"}, 404, "Store not found"),
        ({"store_id": "not-a-store"}, 400, "store_id must be a store id or UUID"),
        ({"since": "yesterday"}, 400, "since must be an ISO 8601 timestamp, e.g. 2026-02-03T10:00:00Z"),
        ({"since": "2026-13-45T99:00:00Z"}, 400, "since must be an ISO 8601 timestamp, e.g. 2026-02-03T10:00:00Z"),
        ({"limit": "abc"}, 400, "limit must be a whole number from 1 to 1000"),
        ({"limit": "0"}, 400, "limit must be from 1 to 1000"),
        ({"limit": "1001"}, 400, "limit must be from 1 to 1000"),
        ({"offset": "-1"}, 400, "offset must be a whole number of at least 0"),
        ({"offset": "1.5"}, 400, "offset must be a whole number of at least 0"),
        ({"cursor": "garbage!"}, 400, "cursor is not a cursor this server issued"),
        ({"cursor": "WyJ4IiwieSJd", "offset": "2"}, 400, "pass either cursor or offset, not both"),
    ],
)
def test_bad_list_parameters_answer_the_envelope(api, edge_user, store, photos, params, status, message):
    if "store_id" not in params and params:
        params = {"store_id": store.pk} | params
    response = api(edge_user).get(LIST, params)
    assert response.status_code == status
    assert response.json()["status"] == "error" and response.json()["message"] == message


def test_a_since_with_an_unencoded_plus_is_understood(api, edge_user, store, photos):
    response = api(edge_user).get(f"{LIST}?store_id={store.pk}&since=2020-01-01T00:00:00+00:00")
    assert response.status_code == 200 and response.json()["data"]["total"] == 5


# Access


def test_an_edge_sees_only_its_own_stores_photos(api, edge_user, store, other_store, make_photo, photos):
    foreign = make_photo(other_store)
    client = api(edge_user)
    assert client.get(LIST, {"store_id": other_store.pk}).json() == {
        "status": "error",
        "code": "STORE_NOT_FOUND",
        "message": "Store not found",
    }
    response = client.get(download_url(foreign), {"store_id": store.pk})
    assert response.status_code == 404 and response.json()["message"] == "Photo not found"
    assert client.get(download_url(foreign), {"store_id": other_store.pk}).status_code == 404
    listed = {p["id"] for p in client.get(LIST, {"store_id": store.pk}).json()["data"]["photos"]}
    assert str(foreign.pk) not in listed


def test_admin_reads_every_store_and_anonymous_callers_are_refused(
    api, admin_user, make_user, store, other_store, photos
):
    assert api(admin_user).get(LIST, {"store_id": other_store.pk}).status_code == 200
    assert api(None).get(LIST, {"store_id": store.pk}).status_code == 401
    operator = make_user("op", role=Role.OPERATOR, stores=[store])
    assert api(operator).get(LIST, {"store_id": store.pk}).status_code == 200
    assert api(operator).get(LIST, {"store_id": other_store.pk}).status_code == 404
    viewer_without_role = make_user("nobody", stores=[store])
    assert api(viewer_without_role).get(LIST, {"store_id": store.pk}).status_code == 403


# The download


@pytest.fixture(params=["inline", "streamed"])
def delivery(request, settings):
    """Both ways a download answers: in one piece (photos up to PHOTO_DOWNLOAD_INLINE_MAX), streamed beyond."""
    if request.param == "streamed":
        settings.PHOTO_DOWNLOAD_INLINE_MAX = 0
    return request.param


def test_the_download_answers_the_bytes_with_the_specs_headers(api, edge_user, store, photos, delivery):
    photo = photos[0]
    response = api(edge_user).get(download_url(photo), {"store_id": str(store.uuid)})

    assert response.status_code == 200 and response.streaming == (delivery == "streamed")
    data = body(response)
    assert hashlib.md5(data).hexdigest() == photo.checksum == response["X-Checksum"]
    assert response["Content-Type"] == "image/jpeg" and response["Content-Length"] == str(photo.size)
    assert response["Content-Disposition"] == f'attachment; filename="{photo.filename}"'
    assert response["X-Version"] == "1" and response["ETag"] == f'"{photo.checksum}"'


def test_if_none_match_answers_304_and_range_answers_206(api, edge_user, store, photos, delivery):
    photo, client = photos[0], api(edge_user)
    url = download_url(photo) + f"?store_id={store.pk}"
    not_modified = client.get(url, HTTP_IF_NONE_MATCH=f'"{photo.checksum}"')
    assert not_modified.status_code == 304 and not_modified["X-Checksum"] == photo.checksum
    assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200

    whole = stored_bytes(photo.object_key)
    partial = client.get(url, HTTP_RANGE="bytes=10-")
    assert partial.status_code == 206 and body(partial) == whole[10:]
    assert partial["Content-Range"] == f"bytes 10-{photo.size - 1}/{photo.size}"
    assert partial["Content-Length"] == str(photo.size - 10)
    middle = client.get(url, HTTP_RANGE="bytes=5-9")
    assert body(middle) == whole[5:10]
    suffix = client.get(url, HTTP_RANGE="bytes=-4")
    assert body(suffix) == whole[-4:]
    stale = client.get(url, HTTP_RANGE="bytes=10-", HTTP_IF_RANGE='"an-older-version"')
    assert stale.status_code == 200 and body(stale) == whole
    beyond = client.get(url, HTTP_RANGE=f"bytes={photo.size}-")
    assert beyond.status_code == 416 and beyond.json()["message"] == "Range not satisfiable"


def test_a_download_reads_the_store_and_the_photo_in_one_query(api, edge_user, store, photos):
    client, url = api(edge_user), download_url(photos[0])
    client.get(url, {"store_id": store.pk})  # the caller's access is cached from here on
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, {"store_id": store.pk}).status_code == 200
    ours = [q["sql"] for q in queries.captured_queries if '"photosync_' in q["sql"] or '"catalog_store"' in q["sql"]]
    assert len(ours) == 1 and '"catalog_store"' in ours[0] and "ORDER BY" not in ours[0]


def test_another_stores_photo_answers_the_stores_404_before_the_renditions_400(
    api, edge_user, admin_user, store, other_store, make_photo
):
    foreign = make_photo(other_store)
    response = api(edge_user).get(download_url(foreign), {"store_id": other_store.pk, "rendition": "huge"})
    assert response.status_code == 404 and response.json()["code"] == "STORE_NOT_FOUND"
    through_own_store = api(edge_user).get(download_url(foreign), {"store_id": store.pk, "rendition": "huge"})
    assert through_own_store.status_code == 400
    assert api(admin_user).get(download_url(foreign), {"store_id": str(other_store.uuid)}).status_code == 200


def test_renditions_and_every_not_found(api, edge_user, store, photos, make_photo, delivery):
    photo, client = photos[0], api(edge_user)
    default_storage.save(
        f"products/{photo.product.uuid}/{photo.checksum}_thumb.webp", __import__("io").BytesIO(b"RIFF-thumb")
    )
    photo.renditions = {"thumb": {"key": f"products/{photo.product.uuid}/{photo.checksum}_thumb.webp", "size": 10}}
    photo.save()
    thumb = client.get(download_url(photo), {"store_id": store.pk, "rendition": "thumb"})
    assert thumb.status_code == 200 and body(thumb) == b"RIFF-thumb" and thumb["Content-Type"] == "image/webp"
    assert thumb["ETag"] == f'"{photo.checksum}-thumb"'
    assert client.get(download_url(photo), {"store_id": store.pk, "rendition": "medium"}).status_code == 404
    bad = client.get(download_url(photo), {"store_id": store.pk, "rendition": "huge"})
    assert bad.status_code == 400 and bad.json()["message"] == "rendition must be one of thumb, medium"

    tombstone_photos(ProductPhoto.objects.filter(pk=photos[1].pk))
    assert client.get(download_url(photos[1]), {"store_id": store.pk}).status_code == 404
    malformed = client.get("/api/v1/sync/product-photos/not-a-uuid/download/", {"store_id": store.pk})
    assert malformed.status_code == 404 and malformed.json()["status"] == "error"
    missing_store = client.get(download_url(photo))
    assert missing_store.status_code == 400 and missing_store.json()["message"] == "store_id is required"
    # Errors are JSON even for a client that only accepts images.
    assert client.get(download_url(photos[1]), {"store_id": store.pk}, HTTP_ACCEPT="image/*").status_code == 404


# The status report


def report(photo, status="synced", **extra):
    return {"photo_id": str(photo.pk), "status": status, "synced_at": "2026-02-03T10:05:00Z", "error": None} | extra


def test_the_status_report_answers_the_spec_and_upserts(api, edge_user, store, photos):
    client = api(edge_user)
    batch = [report(photos[0]), report(photos[1], "failed", synced_at=None, error="Network timeout")]
    response = client.post(STATUS, {"store_id": str(store.uuid), "sync_batch": batch}, format="json")
    assert response.status_code == 200
    assert response.json() == {"status": "success", "message": "Sync status updated for 2 photos"}
    again = client.post(STATUS, {"store_id": str(store.uuid), "sync_batch": batch}, format="json")
    assert again.status_code == 200 and EdgeStatusReport.objects.count() == 2
    failed = EdgeStatusReport.objects.get(photo=photos[1])
    assert failed.status == "failed" and failed.error == "Network timeout" and failed.reported_by == edge_user
    client.post(STATUS, {"store_id": store.pk, "sync_batch": [report(photos[1])]}, format="json")
    assert EdgeStatusReport.objects.get(photo=photos[1]).status == "synced"

    coverage = edge_coverage(store)
    assert (coverage.photos, coverage.synced, coverage.failed, coverage.pending) == (5, 2, 0, 3)
    assert coverage.last_report_at is not None
    replace_photo_bytes(photos[0], image_bytes(700))  # a new version is not confirmed by the old report
    coverage = edge_coverage(store)
    assert (coverage.synced, coverage.pending) == (1, 4)
    assert str(photos[0].pk) in {str(p.pk) for p in unconfirmed_photos(store)}


def test_an_invalid_batch_lists_its_bad_items_and_writes_nothing(
    api, edge_user, store, other_store, photos, make_photo
):
    foreign = make_photo(other_store)
    batch = [
        report(photos[0]),
        report(photos[1], "done"),
        {"photo_id": "nope", "status": "synced"},
        report(foreign),
        report(photos[2], synced_at="later"),
        report(photos[3], version=0),
    ]
    response = api(edge_user).post(STATUS, {"store_id": store.pk, "sync_batch": batch}, format="json")
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "VALIDATION_ERROR"
    assert payload["message"] == "5 invalid item(s) in sync_batch; nothing was recorded"
    assert [item["index"] for item in payload["detail"]["items"]] == [1, 2, 3, 4, 5]
    assert payload["detail"]["items"][2]["errors"] == {"photo_id": "is not a photo of this store"}
    assert EdgeStatusReport.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"sync_batch": []}, 400, "store_id is required"),
        ({"store_id": "00000000-0000-0000-0000-000000000000", "sync_batch": []}, 404, "Store not found"),
        ({"store_id": "STORE", "sync_batch": []}, 400, "sync_batch must be a non-empty list"),
        ({"store_id": "STORE"}, 400, "sync_batch must be a non-empty list"),
        ({"store_id": "STORE", "sync_batch": "x"}, 400, "sync_batch must be a non-empty list"),
    ],
)
def test_bad_status_bodies(api, edge_user, store, payload, status, message):
    payload = {k: (str(store.uuid) if v == "STORE" else v) for k, v in payload.items()}
    response = api(edge_user).post(STATUS, payload, format="json")
    assert response.status_code == status and response.json()["message"] == message


def test_a_batch_over_1000_items_and_a_non_object_body_are_refused(api, edge_user, store, photos):
    client = api(edge_user)
    big = [report(photos[0])] * 1001
    response = client.post(STATUS, {"store_id": store.pk, "sync_batch": big}, format="json")
    assert (
        response.status_code == 400 and response.json()["message"] == "sync_batch holds at most 1000 items (1001 sent)"
    )
    assert client.post(STATUS, [1, 2], format="json").status_code == 400
    assert client.post(STATUS, "{not json", content_type="application/json").status_code == 400


def test_a_viewer_cannot_report_status(api, make_user, store, photos):
    viewer = make_user("viewer", role=Role.VIEWER, stores=[store])
    response = api(viewer).post(STATUS, {"store_id": store.pk, "sync_batch": [report(photos[0])]}, format="json")
    assert response.status_code == 403


# Retention and the admin


def test_reports_of_photos_deleted_long_ago_are_pruned(api, edge_user, store, photos):
    api(edge_user).post(STATUS, {"store_id": store.pk, "sync_batch": [report(p) for p in photos[:2]]}, format="json")
    long_ago = timezone.now() - timedelta(days=400)
    ProductPhoto.objects.filter(pk=photos[0].pk).update(deleted_at=long_ago, updated_at=long_ago)
    assert retention.prune_preview()["edge status reports of deleted photos"] == 1
    retention.prune()
    assert list(EdgeStatusReport.objects.values_list("photo_id", flat=True)) == [photos[1].pk]


def test_the_admin_coverage_page_and_unconfirmed_filter(client, superuser, api, edge_user, store, photos):
    api(edge_user).post(STATUS, {"store_id": store.pk, "sync_batch": [report(photos[0])]}, format="json")
    client.force_login(superuser)
    page = client.get("/admin/photosync/edgestatusreport/coverage/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-store="{store.code}"' in html and '<td class="synced">1</td>' in html
    assert '<td class="pending">4</td>' in html
    unconfirmed = client.get(f"/admin/photosync/productphoto/?store__id__exact={store.pk}&edge_confirmed=no")
    assert unconfirmed.status_code == 200
    assert unconfirmed.context["cl"].result_count == 4
    # Deleting from the admin leaves a tombstone.
    client.post(
        "/admin/photosync/productphoto/", {"action": "delete_as_tombstones", "_selected_action": [str(photos[4].pk)]}
    )
    assert ProductPhoto.objects.get(pk=photos[4].pk).deleted_at is not None


def test_under_asgi_a_large_download_streams_without_buffering(edge_user, store, photos, recwarn, settings):
    settings.PHOTO_DOWNLOAD_INLINE_MAX = photos[0].size - 1
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    from catalog.tokens import StampedRefreshToken

    photo = photos[0]
    token = StampedRefreshToken.for_user(edge_user).access_token

    async def fetch():
        response = await AsyncClient().get(
            download_url(photo), {"store_id": store.pk}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.streaming and hasattr(response.streaming_content, "__aiter__")
        return response, b"".join([chunk async for chunk in response.streaming_content])

    response, data = async_to_sync(fetch)()
    assert response.status_code == 200 and hashlib.md5(data).hexdigest() == photo.checksum
    assert not [w for w in recwarn if "consume synchronous iterators" in str(w.message)]


def test_on_s3_the_list_presigns_and_the_download_streams_ranges(
    api, edge_user, store, make_photo, s3_storage, delivery
):
    photo = make_photo(store)
    whole = s3_storage.get(photo.object_key)
    client = api(edge_user)
    item = client.get(LIST, {"store_id": store.pk}).json()["data"]["photos"][0]
    assert s3_storage.name in item["image_url"] and "Signature" in item["image_url"]

    response = client.get(download_url(photo), {"store_id": store.pk})
    assert response.status_code == 200 and body(response) == whole
    partial = client.get(download_url(photo), {"store_id": store.pk}, HTTP_RANGE="bytes=7-20")
    assert partial.status_code == 206 and body(partial) == whole[7:21]


def test_a_photo_whose_object_is_gone_answers_the_specs_500(api, edge_user, store, photos, delivery):
    default_storage.delete(photos[0].object_key)
    response = api(edge_user).get(download_url(photos[0]), {"store_id": store.pk})
    assert response.status_code == 500
    assert response.json() == {
        "status": "error",
        "code": "INTERNAL_ERROR",
        "message": "Internal server error",
        "detail": "Failed to download image: FileNotFoundError",
    }


# Timestamps with offsets PostgreSQL refuses, or that overflow once shifted to UTC


def test_a_far_offset_since_means_the_same_instant_in_utc(api, make_user, make_photo, store):
    edge = make_user("edge", role=Role.EDGE, stores=[store])
    photo = make_photo(store)
    ProductPhoto.objects.filter(pk=photo.pk).update(updated_at="2026-01-02T00:00:00Z")
    client = api(edge)

    def listed(since: str) -> list[str]:
        response = client.get("/api/v1/sync/product-photos/", {"store_id": store.pk, "since": since})
        assert response.status_code == 200, response.content[:300]
        return [item["id"] for item in response.json()["data"]["photos"]]

    # 2026-01-01T00:00-23:59 is 2026-01-01T23:59Z: the photo (2026-01-02T00:00Z) changed after it.
    assert listed("2026-01-01T00:00:00-23:59") == [str(photo.pk)]
    # 2026-01-03T00:01Z: after the change.
    assert listed("2026-01-02T23:59:00-00:02") == []


@pytest.mark.parametrize(
    "value", ["2026-01-01T00:00:00-23:59", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
)
def test_the_edge_status_reports_synced_at_is_parsed_or_refused(api, make_user, make_photo, store, value):
    edge = make_user("edge", role=Role.EDGE, stores=[store])
    photo = make_photo(store)
    item = {"photo_id": str(photo.pk), "status": "synced", "synced_at": value, "error": None}
    response = api(edge).post(
        "/api/v1/sync/product-photos/status/", {"store_id": store.pk, "sync_batch": [item]}, format="json"
    )
    assert response.status_code == (200 if value.endswith("-23:59") else 400), response.content[:300]
