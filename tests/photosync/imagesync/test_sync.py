"""The image sync against the shop simulator over HTTP: batching, fallbacks, no second
download, changed images, unsafe images, shop errors and retries."""

import hashlib
import re

import pytest
from django.core.files.storage import default_storage

from catalog.models import Product
from photosync.imagesync.runner import sync_images_now
from photosync.models import PhotoSource, ProductPhoto
from tests.photosync.conftest import missing_objects, stored_bytes
from tests.plugins.simulator import sim_get, sim_post, sim_stats

KEY_PATTERN = r"products/{uuid}/[0-9a-f]{{32}}\.(jpg|png)"


def photo_of(store, id_origin: int) -> ProductPhoto:
    return ProductPhoto.objects.get(product__store=store, product__id_origin=id_origin, deleted_at__isnull=True)


def images_of(sim, pid: int) -> list[int]:
    return [image["id"] for image in sim_get(sim, f"products/{pid}")["images"]]


def products_with(sim, count: int, how_many_images) -> list[int]:
    """Simulated product ids whose number of images satisfies ``how_many_images``."""
    found = [pid for pid, images in sorted(sim.shop.images.items()) if how_many_images(len(images))]
    assert len(found) >= count, "the simulator's seed gives too few such products"
    return found[:count]


def test_a_first_sync_stores_every_products_photo_with_its_renditions(shop_store, shop_simulator):
    run = sync_images_now(shop_store)

    assert run.status == "succeeded", run.message
    with_images = products_with(shop_simulator, 1, lambda n: n > 0)
    without = [pid for pid, images in shop_simulator.shop.images.items() if not images]
    assert run.items_processed == Product.objects.filter(store=shop_store).count() == 25
    assert run.counters["downloaded"] == 25 - len(without) and run.counters["fallback"] == len(without) > 0
    assert run.message == "Image sync completed for 25 products."

    photo = photo_of(shop_store, with_images[0])
    cover = images_of(shop_simulator, with_images[0])[0]
    assert re.fullmatch(KEY_PATTERN.format(uuid=photo.product.uuid), photo.object_key)
    data = stored_bytes(photo.object_key)
    assert hashlib.md5(data).hexdigest() == photo.checksum and len(data) == photo.size
    # The simulator draws JPEG for even image ids and PNG for odd ones: the type comes from the bytes.
    assert photo.content_type == ("image/png" if cover % 2 else "image/jpeg")
    assert (photo.source, photo.shop_image_id, photo.version, photo.is_primary) == ("platform", cover, 1, True)
    assert (photo.width, photo.height, photo.store_id) == (200, 200, shop_store.pk)
    assert photo.filename == f"{photo.product.sku.lower()}-{cover}.{photo.object_key.rsplit('.', 1)[1]}"
    assert photo.shop_sha1 == hashlib.sha1(data).hexdigest()
    assert set(photo.renditions) == {"thumb", "medium"}
    for rendition in photo.renditions.values():
        assert rendition["key"].startswith(f"products/{photo.product.uuid}/{photo.checksum}_")
        assert stored_bytes(rendition["key"])[8:12] == b"WEBP"
    assert missing_objects() == []


def test_batches_of_100_and_an_unchanged_resync_moves_no_image_bytes(make_shop_store, make_shop_simulator):
    sim = make_shop_simulator(products=250)
    store = make_shop_store(sim)
    first = sync_images_now(store)
    assert first.status == "succeeded" and first.items_processed == 250
    before = {p.pk: (p.version, p.updated_at, p.object_key) for p in ProductPhoto.objects.all()}
    sim_post(sim, "reset_stats")

    again = sync_images_now(store)

    stats = sim_stats(sim)
    assert again.status == "succeeded"
    assert again.counters["unchanged"] == 250 and again.counters["bytes"] == 0
    assert stats.get("image_get", 0) == 0 and stats.get("image_bytes_sent", 0) == 0
    # One connection check, then the products by id in batches of at most 100: 100 + 100 + 50.
    lists = [line for line in stats["recent"] if "filter[id]" in line]
    sizes = sorted(len(re.search(r"filter\[id\]=\[([\d|]+)\]", line).group(1).split("|")) for line in lists)
    assert sizes == [50, 100, 100] and stats["products_list"] == 4 and stats["total"] == 4
    assert {p.pk: (p.version, p.updated_at, p.object_key) for p in ProductPhoto.objects.all()} == before


def test_products_without_a_usable_image_get_a_fallback(shop_store, shop_simulator):
    no_image = products_with(shop_simulator, 1, lambda n: n == 0)[0]
    two_images = products_with(shop_simulator, 1, lambda n: n >= 2)[0]
    one_image = products_with(shop_simulator, 1, lambda n: n == 1)[0]
    for pid in (two_images, one_image):  # the cover is gone from the shop's disk (HTTP 500, code 61)
        sim_post(shop_simulator, f"products/{pid}/image", {"mode": "missing"})

    run = sync_images_now(shop_store)

    assert run.status == "succeeded", run.errors
    assert run.counters["fallback"] >= 3
    placeholder = photo_of(shop_store, no_image)
    assert (placeholder.source, placeholder.shop_image_id, placeholder.content_type) == ("fallback", None, "image/png")
    assert placeholder.filename.endswith("-placeholder.png") and placeholder.width == 200
    second = photo_of(shop_store, two_images)
    assert (second.source, second.shop_image_id) == ("platform", images_of(shop_simulator, two_images)[1])
    assert photo_of(shop_store, one_image).source == "fallback"
    # The placeholder is drawn from the product's name: the same name gives the same bytes.
    forced = sync_images_now(shop_store, force=True)
    assert photo_of(shop_store, no_image).version == 1 and forced.counters["fallback"] == 0


def test_a_changed_image_is_downloaded_once_and_bumps_the_version(
    shop_store, shop_simulator, django_capture_on_commit_callbacks
):
    sync_images_now(shop_store)
    pid = products_with(shop_simulator, 1, lambda n: n > 0)[0]
    old = photo_of(shop_store, pid)
    others = {p.pk: (p.version, p.updated_at) for p in ProductPhoto.objects.exclude(pk=old.pk)}
    sim_post(shop_simulator, f"products/{pid}/image", {"mode": "change"})  # new bytes, new date_upd
    sim_post(shop_simulator, "reset_stats")

    with django_capture_on_commit_callbacks(execute=True):  # replaced objects go once the photo is committed
        run = sync_images_now(shop_store)

    assert run.counters["downloaded"] == 1 and run.counters["unchanged"] == 24
    assert sim_stats(shop_simulator)["image_get"] == 1
    new = photo_of(shop_store, pid)
    assert new.pk == old.pk and new.version == 2 and new.checksum != old.checksum
    assert new.object_key != old.object_key and new.updated_at > old.updated_at
    assert not any(default_storage.exists(key) for key in old.object_keys)  # the replaced version is gone
    assert missing_objects() == []
    assert {p.pk: (p.version, p.updated_at) for p in ProductPhoto.objects.exclude(pk=old.pk)} == others


def test_force_asks_the_shop_with_its_sha1_and_moves_no_bytes(shop_store, shop_simulator):
    sync_images_now(shop_store)
    sim_post(shop_simulator, "reset_stats")

    run = sync_images_now(shop_store, force=True)

    stats = sim_stats(shop_simulator)
    assert run.counters["unchanged"] == 25 and run.counters["bytes"] == 0
    with_images = sum(1 for images in shop_simulator.shop.images.values() if images)
    assert stats["image_get"] == stats["image_not_modified"] == with_images > 0  # each answered 304
    assert stats.get("image_bytes_sent", 0) == 0


def test_bytes_equal_to_the_photo_held_are_not_decoded_again(shop_store, shop_simulator, monkeypatch):
    from photosync.imagesync import images

    sync_images_now(shop_store)
    ProductPhoto.objects.update(shop_sha1="")  # nothing to send as Local-Content-Sha1: the shop sends the bytes
    decoded = []
    open_image = images.open_image
    monkeypatch.setattr(images, "open_image", lambda file: decoded.append(1) or open_image(file))
    sim_post(shop_simulator, "reset_stats")

    run = sync_images_now(shop_store, force=True)

    with_images = sum(1 for product_images in shop_simulator.shop.images.values() if product_images)
    assert sim_stats(shop_simulator)["image_bytes_sent"] > 0 and run.counters["bytes"] > 0
    assert run.counters["unchanged"] == 25 and run.counters["downloaded"] == 0
    assert decoded == []  # compared by MD5, checked when first stored
    assert ProductPhoto.objects.filter(version=1).count() == 25
    assert ProductPhoto.objects.exclude(shop_sha1="").count() == with_images  # the shop's Content-Sha1, kept again


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("corrupt", "IMAGE_INVALID"),  # truncated to half its bytes
        ("html", "IMAGE_INVALID"),  # an error page served as image/jpeg with 200
        ("huge", "IMAGE_TOO_LARGE"),  # 25 MB announced in Content-Length
        ("huge_chunked", "IMAGE_TOO_LARGE"),  # 25 MB streamed without a length
    ],
)
def test_an_unsafe_image_is_that_products_error_and_the_previous_photo_stays(
    shop_store, shop_simulator, settings, mode, code
):
    settings.IMAGE_MAX_BYTES = 1024 * 1024
    sync_images_now(shop_store)
    pid = products_with(shop_simulator, 1, lambda n: n > 0)[0]
    kept = photo_of(shop_store, pid)
    sim_post(shop_simulator, f"products/{pid}/image", {"mode": "change"})
    sim_post(shop_simulator, f"products/{pid}/image", {"mode": mode})

    run = sync_images_now(shop_store)

    assert run.status == "partial" and run.counters["failed"] == 1
    [error] = run.errors
    assert (error["product_id"], error["id_origin"], error["code"]) == (kept.product_id, pid, code)
    photo = photo_of(shop_store, pid)
    assert (photo.version, photo.object_key, photo.checksum) == (kept.version, kept.object_key, kept.checksum)
    assert missing_objects() == []

    sim_post(shop_simulator, f"products/{pid}/image", {"mode": "normal"})
    healed = sync_images_now(shop_store)  # the failure did not move the product's watermark: tried again
    assert healed.status == "succeeded" and photo_of(shop_store, pid).version == 2


def test_a_first_bad_image_leaves_no_photo(shop_store, shop_simulator):
    pid = products_with(shop_simulator, 1, lambda n: n > 0)[0]
    sim_post(shop_simulator, f"products/{pid}/image", {"mode": "html"})
    run = sync_images_now(shop_store)
    assert run.counters["failed"] == 1 and run.errors[0]["message"].startswith("The shop sent an HTML")
    assert not ProductPhoto.objects.filter(product__id_origin=pid).exists()
    assert ProductPhoto.objects.count() == 24


def test_transient_shop_errors_are_retried(shop_store, shop_simulator):
    sim_post(shop_simulator, "config", {"fail_next": {"count": 2, "status": 503, "method": "GET"}})
    run = sync_images_now(shop_store)
    assert run.status == "succeeded" and ProductPhoto.objects.count() == 25
    assert sim_stats(shop_simulator)["injected_failures"] == 2


def test_a_shop_that_times_out_fails_the_run_after_retries_and_touches_nothing(shop_store, shop_simulator, settings):
    sync_images_now(shop_store)
    before = list(ProductPhoto.objects.values_list("pk", "version", "updated_at").order_by("pk"))
    settings.PLATFORM_TIMEOUT = 0.2
    sim_post(shop_simulator, "config", {"latency_ms": 500})
    sim_post(shop_simulator, "reset_stats")

    run = sync_images_now(shop_store, force=True)

    assert run.status == "failed" and run.result["error"]["code"] == "SYNC_TIMEOUT"
    assert sim_stats(shop_simulator)["total"] == settings.PLATFORM_RETRY_ATTEMPTS
    assert list(ProductPhoto.objects.values_list("pk", "version", "updated_at").order_by("pk")) == before


def test_a_rejected_key_fails_the_run_without_leaking_the_key(shop_store, shop_simulator):
    wrong = "W" * 32
    type(shop_store).objects.filter(pk=shop_store.pk).update(platform_api_key=wrong)
    shop_store.refresh_from_db()
    run = sync_images_now(shop_store)
    assert run.status == "failed" and run.result["error"]["code"] == "PLATFORM_AUTH_FAILED"
    assert wrong not in run.message and not ProductPhoto.objects.exists()


def test_a_product_gone_from_the_shop_is_reported(shop_store):
    ghost = Product.objects.create(store=shop_store, id_origin=99999, name="Ghost", sku="GHOST")
    Product.objects.create(store=shop_store, id_origin=None, name="Local only")  # no id_origin: not processed
    run = sync_images_now(shop_store)
    assert run.status == "partial" and run.items_processed == 26
    assert run.errors == [
        {
            "product_id": ghost.pk,
            "id_origin": 99999,
            "code": "PLATFORM_NOT_FOUND",
            "message": "Product 99999 is not in the shop.",
        }
    ]


def test_an_uploaded_photo_is_never_replaced(shop_store, shop_simulator):
    sync_images_now(shop_store)
    pid = products_with(shop_simulator, 1, lambda n: n > 0)[0]
    ProductPhoto.objects.filter(product__id_origin=pid).update(source=PhotoSource.UPLOAD, checksum="0" * 32)
    sim_post(shop_simulator, f"products/{pid}/image", {"mode": "change"})
    sync_images_now(shop_store, force=True)
    photo = photo_of(shop_store, pid)
    assert (photo.source, photo.checksum, photo.version) == ("upload", "0" * 32, 1)


def pixel_bomb_png() -> bytes:
    """6324x6324 pixels (just under the 40 Mpx limit) in about 130 KB: 160 MB once decoded."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (6324, 6324), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    for y in range(0, 6324, 400):
        draw.line((0, y, 6324, y), fill=(20, 90, 160), width=3)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def test_an_image_too_big_to_decode_is_that_products_error(shop_store, shop_simulator):
    pid = products_with(shop_simulator, 1, lambda n: n > 0)[0]
    image = shop_simulator.shop.set_image_mode(pid, "change")
    shop_simulator.shop._image_cache[(pid, image.id, image.version)] = (pixel_bomb_png(), "image/png")

    run = sync_images_now(shop_store)

    assert run.status == "partial" and run.counters["failed"] == 1
    [error] = run.errors
    assert (error["id_origin"], error["code"]) == (pid, "IMAGE_TOO_LARGE")
    assert "6324x6324" in error["message"] and "IMAGE_MAX_DECODED_BYTES" in error["message"]
    assert not ProductPhoto.objects.filter(product__id_origin=pid).exists()


def test_no_more_images_are_decoded_at_once_than_the_setting_allows(shop_store, settings, monkeypatch):
    import threading
    import time

    from photosync.imagesync import images

    settings.IMAGE_DECODE_CONCURRENCY = 1
    settings.IMAGE_SYNC_CONCURRENCY = 8
    open_image, lock = images.open_image, threading.Lock()
    state = {"now": 0, "most": 0}

    def counting_open_image(file):  # the real decoder, counted (the slot is held until the renditions are made)
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        try:
            time.sleep(0.02)  # long enough for the pool's other threads to arrive
            return open_image(file)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(images, "open_image", counting_open_image)
    run = sync_images_now(shop_store)

    assert run.status == "succeeded" and run.counters["downloaded"] > 10
    assert state["most"] == 1
