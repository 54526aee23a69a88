"""Head office to edge distribution (spec 001): the photo feed pages, the status reports
the edges send back, and deleting photos as tombstones.

Pages follow (``updated_at``, ``id``). ``offset`` paging is the spec's; ``cursor`` is
keyset paging (its cost does not grow with the page number, and a photo that changes
while an edge pages moves behind the cursor instead of shifting the pages). ``server_time``
lags the clock by ``PHOTO_SYNC_WATERMARK_LAG`` so a change committed a moment late is
still listed by the next incremental pass (listing a photo twice is harmless: the edge
compares checksums).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from photosync.models import EdgeStatusReport, EdgeSyncStatus, ProductPhoto
from photosync.selectors import after_position, photo_feed

MAX_LIMIT = 1000
MAX_BATCH = 1000
MAX_ERROR_LENGTH = 2000
MAX_VERSION = 2_147_483_647  # the column's range


class InvalidCursor(ValueError):
    pass


def parse_timestamp(text) -> datetime | None:
    """An aware datetime from ISO 8601 (naive means UTC; a '+' that a query string turned
    into a space is accepted); None when ``text`` is not one."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if " " in text[10:]:
        text = text[:10] + text[10:].replace(" ", "+")
    try:
        parsed = parse_datetime(text)
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def encode_cursor(photo: ProductPhoto) -> str:
    raw = json.dumps([photo.updated_at.isoformat(), str(photo.pk)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated_text, photo_text = json.loads(raw)
        updated_at, photo_id = parse_datetime(updated_text), uuid.UUID(photo_text)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidCursor("cursor is not a cursor this server issued") from None
    if updated_at is None or timezone.is_naive(updated_at):
        raise InvalidCursor("cursor is not a cursor this server issued")
    return updated_at, photo_id


@dataclass
class PhotoPage:
    photos: list[ProductPhoto]
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
    total = feed.count()
    page = feed.select_related("product").only(
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
        "renditions",
    )
    if cursor:
        page = after_position(page, *decode_cursor(cursor))
        rows = list(page[: limit + 1])
        next_offset = None
    else:
        rows = list(page[offset : offset + limit + 1])
        next_offset = offset + limit if len(rows) > limit else None
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]) if has_more else None
    return PhotoPage(rows, total, has_more, next_offset, next_cursor, server_time)


# Status reports


@dataclass
class ReportItem:
    photo_id: uuid.UUID
    status: str
    synced_at: datetime | None
    error: str
    version: int | None


@dataclass
class InvalidBatch(Exception):
    message: str
    items: list[dict] = field(default_factory=list)


def _parse_item(raw) -> tuple[ReportItem | None, dict]:
    """The item, or the reasons it is invalid (field -> message)."""
    if not isinstance(raw, dict):
        return None, {"item": "must be an object"}
    errors: dict[str, str] = {}
    photo_id = None
    try:
        photo_id = uuid.UUID(str(raw.get("photo_id")))
    except (ValueError, TypeError, AttributeError):
        errors["photo_id"] = "must be a photo UUID" if raw.get("photo_id") else "is required"
    status = raw.get("status")
    if status not in EdgeSyncStatus.values:
        errors["status"] = f"must be one of {', '.join(EdgeSyncStatus.values)}"
    synced_at = raw.get("synced_at")
    if synced_at is not None:
        synced_at = parse_timestamp(synced_at)
        if synced_at is None:
            errors["synced_at"] = "must be an ISO 8601 timestamp or null"
    error = raw.get("error")
    if error is not None and not isinstance(error, str):
        errors["error"] = "must be a string or null"
    version = raw.get("version")
    if version is not None and (
        not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= MAX_VERSION
    ):
        errors["version"] = "must be a positive integer"
    if errors:
        return None, errors
    return ReportItem(photo_id, status, synced_at, (error or "")[:MAX_ERROR_LENGTH], version), {}


def record_status_reports(store, batch, *, user=None) -> int:
    """Validate the whole batch, then upsert one report per (store, photo); returns the count.

    Raises :class:`InvalidBatch` (nothing written) listing each bad item. Within a batch the
    last item about a photo wins; a report without ``version`` is about the current one.
    """
    if not isinstance(batch, list) or not batch:
        raise InvalidBatch("sync_batch must be a non-empty list")
    if len(batch) > MAX_BATCH:
        raise InvalidBatch(f"sync_batch holds at most {MAX_BATCH} items ({len(batch)} sent)")
    items: list[tuple[int, ReportItem]] = []
    bad: list[dict] = []
    for index, raw in enumerate(batch):
        item, errors = _parse_item(raw)
        if errors:
            bad.append(
                {"index": index, "photo_id": raw.get("photo_id") if isinstance(raw, dict) else None, "errors": errors}
            )
        else:
            items.append((index, item))
    versions = dict(
        ProductPhoto.objects.filter(store=store, pk__in=[item.photo_id for _, item in items]).values_list(
            "pk", "version"
        )
    )
    for index, item in items:
        if item.photo_id not in versions:
            bad.append(
                {"index": index, "photo_id": str(item.photo_id), "errors": {"photo_id": "is not a photo of this store"}}
            )
    if bad:
        bad.sort(key=lambda entry: entry["index"])
        raise InvalidBatch(f"{len(bad)} invalid item(s) in sync_batch; nothing was recorded", bad)
    latest = {item.photo_id: item for _, item in items}
    reports = [
        EdgeStatusReport(
            store=store,
            photo_id=photo_id,
            status=item.status,
            version=item.version or versions[photo_id],
            synced_at=item.synced_at,
            error=item.error,
            reported_by=user if getattr(user, "pk", None) else None,
            reported_at=timezone.now(),
        )
        for photo_id, item in sorted(latest.items())  # one lock order: concurrent reports cannot deadlock
    ]
    with transaction.atomic():
        EdgeStatusReport.objects.bulk_create(
            reports,
            update_conflicts=True,
            unique_fields=["store", "photo"],
            update_fields=["status", "version", "synced_at", "error", "reported_by", "reported_at"],
        )
    return len(reports)


# Deleting photos


def tombstone_photos(queryset) -> int:
    """Delete photos as tombstones (``deleted_at`` and ``updated_at`` set): the edges of
    their store remove them on their next incremental pass. Objects stay in storage."""
    now = timezone.now()
    return queryset.filter(deleted_at__isnull=True).update(deleted_at=now, updated_at=now)
