"""Photos in Django's default storage: the file system (embedded mode) and S3 (moto's real
S3 server on loopback, through boto3 and django-storages)."""

import hashlib
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage

from photosync.imagesync.runner import sync_images_now
from photosync.imagesync.storage import put_object, read_object
from photosync.models import ProductPhoto
from tests.plugins.simulator import sim_post


def referenced_keys() -> set[str]:
    return {key for photo in ProductPhoto.objects.filter(deleted_at__isnull=True) for key in photo.object_keys}


def test_on_the_file_system_every_key_is_a_file_under_media_root(shop_store):
    sync_images_now(shop_store)
    photo = ProductPhoto.objects.filter(source="platform").first()
    path = Path(settings.MEDIA_ROOT) / photo.object_key
    assert path.is_file() and hashlib.md5(path.read_bytes()).hexdigest() == photo.checksum
    assert all((Path(settings.MEDIA_ROOT) / key).is_file() for key in referenced_keys())
    assert default_storage.url(photo.object_key) == f"/media/{photo.object_key}"


@pytest.fixture
def fresh_media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def files_under_media_root() -> set[str]:
    """Every file under MEDIA_ROOT/products, hidden ones included, as storage keys."""
    media = Path(settings.MEDIA_ROOT)
    return {path.relative_to(media).as_posix() for path in media.rglob("*") if path.is_file()}


def test_on_the_file_system_each_object_is_one_file_and_no_partial_file_is_left(shop_store, settings, fresh_media_root):
    settings.IMAGE_RENDITIONS = {"thumb": 100, "medium": 800}  # the shop's 200-pixel images: two WebP sizes

    run = sync_images_now(shop_store)

    assert run.status == "succeeded", run.errors
    assert files_under_media_root() == referenced_keys()
    assert len(referenced_keys()) == 3 * ProductPhoto.objects.count()  # the original, the thumb, the medium


class FailingRead(io.BytesIO):
    """A file whose reading fails after its first bytes, like a download cut in the middle."""

    def read(self, size=-1):
        if self.tell():
            raise OSError("the disk went away")
        return super().read(4)


def test_a_write_that_fails_midway_leaves_nothing_at_the_key_and_no_partial_file(db, fresh_media_root):
    key = "products/test/0123456789abcdef0123456789abcdef.jpg"
    with pytest.raises(OSError, match="disk went away"):
        put_object(key, FailingRead(b"the whole file"), 14)
    assert not default_storage.exists(key)
    assert files_under_media_root() == set()

    put_object(key, b"the whole file", 14)
    with pytest.raises(OSError, match="disk went away"):
        put_object(key, FailingRead(b"the whole file"), 14)  # a rewrite replaces the object only when whole
    with default_storage.open(key, "rb") as handle:
        assert handle.read() == b"the whole file"
    assert files_under_media_root() == {key}


def test_an_incomplete_object_left_by_a_crash_is_replaced(db):
    key = "products/test/0123456789abcdef0123456789abcdef.jpg"
    put_object(key, b"half", 4)  # what a writer killed in the middle leaves behind
    put_object(key, b"the whole file", 14)
    with default_storage.open(key, "rb") as handle:
        assert handle.read() == b"the whole file"
    put_object(key, b"the whole file", 14)  # the same content again: nothing written, no copy
    assert default_storage.listdir("products/test")[1] == ["0123456789abcdef0123456789abcdef.jpg"]


def test_an_object_is_read_whole_or_by_range_and_never_from_outside_media_root(db, fresh_media_root):
    key = "products/test/0123456789abcdef0123456789abcdef.jpg"
    put_object(key, b"the whole file", 14)
    assert read_object(key) == b"the whole file"
    assert read_object(key, 4, 8) == b"whole"
    assert read_object(key, 10) == b"file"
    with pytest.raises(FileNotFoundError):
        read_object("products/test/missing.jpg")
    with pytest.raises(SuspiciousFileOperation):
        read_object("../outside.jpg")


def test_on_s3_the_bucket_holds_exactly_the_referenced_objects(
    shop_store, shop_simulator, s3_storage, django_capture_on_commit_callbacks
):
    assert default_storage.bucket_name == s3_storage.name

    run = sync_images_now(shop_store)

    assert run.status == "succeeded", run.errors
    assert set(s3_storage.keys()) == referenced_keys()
    # The original and one WebP: a 200-pixel image fits both the thumb and the medium box, which share it.
    assert len(referenced_keys()) == 2 * ProductPhoto.objects.count()
    photo = ProductPhoto.objects.filter(source="platform").first()
    data = s3_storage.get(photo.object_key)
    assert hashlib.md5(data).hexdigest() == photo.checksum
    head = s3_storage.server.client().head_object(Bucket=s3_storage.name, Key=photo.object_key)
    assert head["ContentType"] == photo.content_type and head["ContentLength"] == photo.size
    thumb = s3_storage.server.client().head_object(Bucket=s3_storage.name, Key=photo.rendition_key("thumb"))
    assert thumb["ContentType"] == "image/webp"
    assert s3_storage.endpoint in default_storage.url(photo.object_key)  # a presigned URL

    sim_post(shop_simulator, f"products/{photo.product.id_origin}/image", {"mode": "change"})
    with django_capture_on_commit_callbacks(execute=True):
        again = sync_images_now(shop_store)
    assert again.counters["downloaded"] == 1
    assert set(s3_storage.keys()) == referenced_keys()  # the replaced version's objects are gone


def test_on_s3_each_object_is_written_with_one_put_and_nothing_else_is_asked(shop_store, s3_storage, settings):
    settings.IMAGE_RENDITIONS = {"thumb": 100, "medium": 800}

    run = sync_images_now(shop_store)

    assert run.status == "succeeded", run.errors
    requests = s3_storage.requests()  # the S3 server's own log
    assert {method for method, _ in requests} == {"PUT"}  # no existence check, no multipart upload
    assert sorted(key for _, key in requests) == s3_storage.keys() == sorted(referenced_keys())
    assert len(referenced_keys()) == 3 * ProductPhoto.objects.count()
    photo = ProductPhoto.objects.filter(source="platform").first()
    for key, content_type in [(photo.object_key, photo.content_type), (photo.rendition_key("thumb"), "image/webp")]:
        head = s3_storage.server.client().head_object(Bucket=s3_storage.name, Key=key)
        assert head["ContentType"] == content_type
