"""Photo objects in Django's default storage (files in the embedded mode, S3 in production).

Keys are content-addressed: ``products/<product uuid>/<md5>.<ext>`` for the original and
``products/<product uuid>/<md5>_<rendition>.webp`` beside it. Writing a key that already
holds the same bytes is a no-op, so a redelivered task never duplicates an object, and a
key is only referenced by the database after its object is fully written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils.crypto import constant_time_compare
from django.utils.encoding import filepath_to_uri

logger = logging.getLogger(__name__)

PREFIX = "products"


def original_key(product_uuid, checksum: str, extension: str) -> str:
    return f"{PREFIX}/{product_uuid}/{checksum}.{extension}"


def rendition_key(product_uuid, checksum: str, name: str, extension: str = "webp") -> str:
    return f"{PREFIX}/{product_uuid}/{checksum}_{name}.{extension}"


def put_object(key: str, content: BinaryIO | bytes, size: int) -> None:
    """Store ``content`` under ``key``; a key that already holds an object of that size is kept.

    The key names its content (MD5), so an object of the right size is this content; a
    shorter one is what a crashed writer left behind on a file system, and is replaced.

    A content-addressed key never needs another name, so the write goes straight to the
    backend's ``_save`` without ``save()``'s existence check: on S3 one PUT (atomic, and
    rewriting a key with its own content changes nothing); on a file system an exclusive
    create, which picks another name when the key is taken.
    """
    storage = default_storage
    saved = storage._save(key, _upload(key, content, size))
    if saved == key:
        return
    storage.delete(saved)  # the key was taken: the storage chose another name for this copy
    if storage.size(key) != size:
        logger.warning("replacing the incomplete object %s", key)
        storage.delete(key)
        if storage._save(key, _upload(key, content, size)) != key:
            raise RuntimeError(f"could not write {key}")


def _upload(key: str, content: BinaryIO | bytes, size: int) -> File:
    if isinstance(content, bytes):
        return ContentFile(content, name=key)
    content.seek(0)
    upload = File(content, name=key)
    upload.size = size
    return upload


def delete_objects(keys: Iterable[str]) -> None:
    """Best effort: an object left behind is only wasted space, never a broken reference."""
    for key in keys:
        try:
            default_storage.delete(key)
        except Exception:  # storage outages must not fail a sync that has already committed
            logger.warning("could not delete the replaced object %s", key, exc_info=True)


def object_url(key: str | None, request=None) -> str | None:
    """The one way to a photo object's URL, never a public one. On S3 a presigned URL
    (``querystring_auth``); on a file system the media URL with an expiry and its HMAC
    (``MEDIA_URL_EXPIRE``), checked by :mod:`photosync.imagesync.media`, made absolute for
    ``request`` when given. Both expire after ``MEDIA_URL_EXPIRE`` seconds."""
    return object_url_maker(request)(key)


def object_url_maker(request=None) -> Callable[[str | None], str | None]:
    """``object_url`` for many keys (a page of photos): what all the links share, the
    absolute base URL, the expiry and the signer, is worked out once."""
    storage = default_storage
    if not isinstance(storage, FileSystemStorage):
        return lambda key: storage.url(key) if key else None
    expires = int(time.time()) + settings.MEDIA_URL_EXPIRE
    base = request.build_absolute_uri(storage.base_url) if request is not None else storage.base_url
    signer = _media_signer()

    def url(key: str | None) -> str | None:
        if not key:
            return None
        # Both values are URL-safe as they are (digits; URL-safe base64): no urlencode per link.
        return f"{base}{filepath_to_uri(key)}?expires={expires}&signature={signer.signature(f'{key}:{expires}')}"

    return url


def _media_signer() -> signing.Signer:
    return signing.Signer(salt="photosync.media")


def media_signature(key: str, expires: int) -> str:
    return _media_signer().signature(f"{key}:{expires}")


def media_signature_is_valid(key: str, expires: str, signature: str) -> bool:
    """True when ``signature`` is ours for ``key`` and ``expires`` has not passed."""
    if not expires.isdigit() or int(expires) < time.time():
        return False
    return constant_time_compare(media_signature(key, int(expires)), signature)


def object_exists(key: str) -> bool:
    return default_storage.exists(key)


STREAM_CHUNK = 64 * 1024


def stream_object(key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The object's bytes ``start..end`` (inclusive) in chunks, never the whole object in
    memory: a ranged GET on S3 (django-storages' file would buffer it), a seek on a file
    system. The object is opened before this returns, so a missing object raises here."""
    storage = default_storage
    if hasattr(storage, "bucket"):  # S3Storage
        byte_range = f"bytes={start}-{'' if end is None else end}"
        body = storage.bucket.Object(storage._normalize_name(key)).get(Range=byte_range)["Body"]
        return _s3_chunks(body)
    handle = storage.open(key, "rb")
    handle.seek(start)
    return _file_chunks(handle, None if end is None else end - start + 1)


def _s3_chunks(body) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(STREAM_CHUNK)
    finally:
        body.close()


def _file_chunks(handle, remaining: int | None) -> Iterator[bytes]:
    with handle:
        while remaining is None or remaining > 0:
            chunk = handle.read(STREAM_CHUNK if remaining is None else min(STREAM_CHUNK, remaining))
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
