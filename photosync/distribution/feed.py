"""Head office to edge distribution: the photo feed pages, and deleting photos
as tombstones (the status reports the edges send back are in :mod:`.reports`).

Pages follow (``updated_at``, ``id``). ``offset`` paging is the spec's; ``cursor`` is
keyset paging (its cost does not grow with the page number, and a photo that changes
while an edge pages moves behind the cursor instead of shifting the pages). ``server_time``
lags the clock by ``PHOTO_SYNC_WATERMARK_LAG`` so a change committed a moment late is
still listed by the next incremental pass (listing a photo twice is harmless: the edge
compares checksums).

``total`` is counted once per pass, not per page: the first page counts, its cursor
carries the figure, and the cursor pages answer it again (a ``COUNT(*)`` over 200,000
photos is most of a page's time). So ``total`` is the size of the pass as it began;
cursors issued before this carried no total and still work (their pages count).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from config.api import parsers
from config.api.params import parse_timestamp
from config.error_codes import ErrorCode
from config.errors import DomainError
from photosync.distribution.selectors import after_position, photo_feed

MAX_LIMIT = 1000


class InvalidCursor(DomainError):
    """A ``cursor`` this server did not issue (400 VALIDATION_ERROR)."""

    code = ErrorCode.VALIDATION_ERROR
    http_status = 400

    def __init__(self, message: str = "cursor is not a cursor this server issued"):
        super().__init__(message=message)


@dataclass(frozen=True)
class Cursor:
    """A position in the feed, and the pass's total if its first page counted it."""

    updated_at: datetime
    photo_id: uuid.UUID
    total: int | None = None


def encode_cursor(row: dict, total: int) -> str:
    raw = json.dumps([row["updated_at"].isoformat(), str(row["id"]), total], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated_text, photo_text, *rest = parsers.loads(raw)
        position = Cursor(parse_timestamp(updated_text), uuid.UUID(photo_text), *rest)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidCursor() from None
    total_ok = position.total is None or (type(position.total) is int and position.total >= 0)
    if position.updated_at is None or not total_ok:
        raise InvalidCursor()
    return position


# What a list item shows (``serializers.photo_item``): rows, not model instances, since a
# page holds up to 1,000 photos and building two models per photo was a fifth of its time.
FEED_FIELDS = (
    "id",
    "product__uuid",
    "product__sku",
    "product__name",
    "object_key",
    "filename",
    "size",
    "content_type",
    "checksum",
    "version",
    "is_primary",
    "sort_order",
    "updated_at",
    "deleted_at",
)


@dataclass
class PhotoPage:
    photos: list[dict]
    total: int
    has_more: bool
    next_offset: int | None
    next_cursor: str | None
    server_time: datetime


def list_photos(
    store, *, since: datetime | None = None, limit: int = 100, offset: int = 0, cursor: str | None = None
) -> PhotoPage:
    """One page of the store's feed (``cursor`` wins over ``offset``)."""
    server_time = timezone.now() - timedelta(seconds=settings.PHOTO_SYNC_WATERMARK_LAG)
    feed = photo_feed(store, since=since)
    position = decode_cursor(cursor) if cursor else None
    total = position.total if position and position.total is not None else feed.count()
    page = feed.values(*FEED_FIELDS)
    if position:
        page = after_position(page, position.updated_at, position.photo_id)
        rows = list(page[: limit + 1])
        next_offset = None
    else:
        rows = list(page[offset : offset + limit + 1])
        next_offset = offset + limit if len(rows) > limit else None
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1], total) if has_more else None
    return PhotoPage(rows, total, has_more, next_offset, next_cursor, server_time)


# Deleting photos


def tombstone_photos(queryset) -> int:
    """Delete photos as tombstones (``deleted_at`` and ``updated_at`` set): the edges of
    their store remove them on their next incremental pass. Objects stay in storage."""
    now = timezone.now()
    return queryset.filter(deleted_at__isnull=True).update(deleted_at=now, updated_at=now)
