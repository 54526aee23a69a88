"""The status reports the edges send back: validated as a whole, then one row
per (store, photo) upserted; the coverage figures read them (:mod:`.selectors`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from config.api.params import parse_timestamp
from config.error_codes import ErrorCode
from config.errors import DomainError
from photosync.models import EdgeStatusReport, EdgeSyncStatus, ProductPhoto

MAX_BATCH = 1000
MAX_ERROR_LENGTH = 2000
MAX_VERSION = 2_147_483_647  # the column's range


@dataclass
class ReportItem:
    photo_id: uuid.UUID
    status: str
    synced_at: datetime | None
    error: str
    version: int | None


class InvalidBatch(DomainError):
    """The batch is refused as a whole (400 VALIDATION_ERROR; the bad items in ``detail.items``)."""

    code = ErrorCode.VALIDATION_ERROR
    http_status = 400

    def __init__(self, message: str, items: list[dict] | None = None):
        self.items = items or []
        super().__init__(message=message, detail={"items": self.items} if self.items else None)


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
