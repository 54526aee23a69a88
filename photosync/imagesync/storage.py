"""Photo objects in Django's default storage (files in the embedded mode, S3 in production).

Keys are content-addressed: ``products/<product uuid>/<md5>.<ext>`` for the original and
``products/<product uuid>/<md5>_<rendition>.webp`` beside it. Writing a key again puts the
same bytes in its place at once (an atomic replace), so a redelivered task never duplicates
an object, and a key is only referenced by the database after its object is fully written.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils._os import safe_makedirs
from django.utils.crypto import constant_time_compare
from django.utils.encoding import filepath_to_uri
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

logger = logging.getLogger(__name__)

PREFIX = "products"
STREAM_CHUNK = 64 * 1024
PARTIAL_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def original_key(product_uuid, checksum: str, extension: str) -> str:
    return f"{PREFIX}/{product_uuid}/{checksum}.{extension}"


def rendition_key(product_uuid, checksum: str, name: str, extension: str = "webp") -> str:
    return f"{PREFIX}/{product_uuid}/{checksum}_{name}.{extension}"


def put_object(key: str, content: BinaryIO | bytes, size: int, *, content_type: str | None = None) -> None:
    """Store ``content`` (bytes, or a file read from its start) under ``key``, in one write.

    The key names its content (MD5), so writing it again with the same bytes changes
    nothing, and nothing refers to the key before this returns. On S3 one PUT through the
    storage's own client and its object parameters (an S3 PUT is atomic); on a file system
    the bytes go to a hidden file beside the key, renamed over it once complete, so a reader
    never sees part of an object and a crash leaves no partial object at the key (the
    hidden file is removed on an error; the key is untouched).

    Django's ``Storage.save`` is not used: a content-addressed key needs neither its
    existence check and name-picking loop, nor on a file system its folder checks, file
    lock and chmod (about a dozen system calls an object, against five here), nor on S3 a
    transfer manager, with its own threads, for every object.
    """
    storage = default_storage
    if isinstance(storage, FileSystemStorage):
        _write_file(storage, key, content)
    elif isinstance(storage, S3Storage):
        _put_s3(storage, key, content, size, content_type)
    else:
        raise ImproperlyConfigured(f"Photos are stored on a file system or S3, not {type(storage).__name__}.")


def _write_file(storage: FileSystemStorage, key: str, content: BinaryIO | bytes) -> None:
    path = storage.path(key)  # safe_join: a key never leaves MEDIA_ROOT
    folder, name = os.path.split(path)
    partial = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.part")
    try:
        fd = os.open(partial, PARTIAL_FLAGS, 0o666)  # the umask applies, as in Django's storage
    except FileNotFoundError:  # the product's first object: its folder does not exist yet
        _make_folders(storage, folder)
        fd = os.open(partial, PARTIAL_FLAGS, 0o666)
    try:
        try:
            _write_all(fd, content)
            _apply_ownership(storage, fd)
        finally:
            os.close(fd)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise


def _write_all(fd: int, content: BinaryIO | bytes) -> None:
    if isinstance(content, bytes):
        chunks: Iterable[bytes] = (content,)
    else:
        content.seek(0)
        chunks = iter(lambda: content.read(STREAM_CHUNK), b"")
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]


def _apply_ownership(storage: FileSystemStorage, fd: int) -> None:
    """Django's rules for a saved file: ``FILE_UPLOAD_PERMISSIONS``, and MEDIA_ROOT's group;
    one ``fstat`` tells whether either needs a change (usually neither)."""
    stat = os.fstat(fd)
    mode = storage.file_permissions_mode
    if mode is not None and stat.st_mode & 0o7777 != mode:
        os.fchmod(fd, mode)
    group = os.stat(storage.location).st_gid
    if stat.st_gid != group:
        with contextlib.suppress(PermissionError):
            os.fchown(fd, -1, group)


def _make_folders(storage: FileSystemStorage, folder: str) -> None:
    if storage.directory_permissions_mode is None:
        os.makedirs(folder, exist_ok=True)
    else:
        safe_makedirs(folder, storage.directory_permissions_mode, exist_ok=True)


def _put_s3(storage: S3Storage, key: str, content: BinaryIO | bytes, size: int, content_type: str | None) -> None:
    name = storage._normalize_name(clean_name(key))
    params = storage._get_write_parameters(name)  # the storage's object parameters and ACL
    if content_type:
        params["ContentType"] = content_type
    if not isinstance(content, bytes):
        content.seek(0)
    storage.connection.meta.client.put_object(
        Bucket=storage.bucket_name, Key=name, Body=content, ContentLength=size, **params
    )


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
    absolute base URL, the expiry and the signing key, is worked out once."""
    storage = default_storage
    if not isinstance(storage, FileSystemStorage):
        return lambda key: storage.url(key) if key else None
    expires = int(time.time()) + settings.MEDIA_URL_EXPIRE
    base = request.build_absolute_uri(storage.base_url) if request is not None else storage.base_url
    signature = media_signer()

    def url(key: str | None) -> str | None:
        if not key:
            return None
        # The keys this app writes are URL-safe as they are; expires (digits) and the
        # signature (URL-safe base64) too: no quoting per link but for other keys.
        path = key if _URL_SAFE.fullmatch(key) else filepath_to_uri(key)
        return f"{base}{path}?expires={expires}&signature={signature(f'{key}:{expires}')}"

    return url


# Characters ``filepath_to_uri`` leaves as they are.
_URL_SAFE = re.compile(r"[A-Za-z0-9/._~-]*")


def media_signer() -> Callable[[str], str]:
    """The media links' signature of a message: exactly ``signing.Signer(salt="photosync.media")
    .signature(message)`` (links signed before stay valid), with the key Django derives from
    SECRET_KEY per call derived once, so a page of links costs one HMAC each."""
    key = hashlib.sha256(f"{_MEDIA_SALT}signer{settings.SECRET_KEY}".encode()).digest()
    keyed = hmac.new(key, digestmod=hashlib.sha256)

    def signature(message: str) -> str:
        mac = keyed.copy()
        mac.update(message.encode())
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()

    return signature


_MEDIA_SALT = "photosync.media"


def media_signature(key: str, expires: int) -> str:
    return media_signer()(f"{key}:{expires}")


def media_signature_is_valid(key: str, expires: str, signature: str) -> bool:
    """True when ``signature`` is ours for ``key`` and ``expires`` has not passed."""
    if not expires.isdigit() or int(expires) < time.time():
        return False
    return constant_time_compare(media_signature(key, int(expires)), signature)


def object_exists(key: str) -> bool:
    return default_storage.exists(key)


def stream_object(key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The object's bytes ``start..end`` (inclusive) in chunks, never the whole object in
    memory: a ranged GET on S3 (django-storages' file would buffer it), a seek on a file
    system. The object is opened before this returns, so a missing object raises here."""
    storage = default_storage
    if isinstance(storage, S3Storage):
        byte_range = f"bytes={start}-{'' if end is None else end}"
        body = storage.bucket.Object(storage._normalize_name(key)).get(Range=byte_range)["Body"]
        return _s3_chunks(body)
    handle = storage.open(key, "rb")
    handle.seek(start)
    return _file_chunks(handle, None if end is None else end - start + 1)


def read_object(key: str, start: int = 0, end: int | None = None) -> bytes:
    """The object's bytes ``start..end`` (inclusive) in one piece, for small objects: on a
    file system one open and one read of the file (no storage ``File`` wrapper, no stat), on
    S3 one ranged GET. A missing object raises."""
    storage = default_storage
    if isinstance(storage, FileSystemStorage):
        with open(storage.path(key), "rb", buffering=0) as handle:  # path(): a key never leaves MEDIA_ROOT
            if start:
                handle.seek(start)
            return handle.readall() if end is None else handle.read(end - start + 1)
    with contextlib.closing(stream_object(key, start, end)) as chunks:
        return b"".join(chunks)


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
