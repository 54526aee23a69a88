"""One pass of the edge agent: bring the edge's photos level with head office.

The pass pages through the store's feed by cursor (``since`` = the watermark, none with
``full``), compares each photo with the local copy by checksum and version, downloads what
changed (at most ``EDGE_SYNC_CONCURRENCY`` at once, each verified by MD5 and written
atomically, :mod:`photosync.edge.files`), deletes tombstoned photos and reports to head
office in batches of ``EDGE_REPORT_BATCH``. Local rows and reports are written by this
thread only. The watermark moves to the first page's ``server_time`` only after a pass that
went through every page with nothing failed; otherwise the next pass lists the same photos
again and only what is still missing is downloaded.
"""

from __future__ import annotations

import logging
import queue
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from config.api.params import parse_timestamp
from photosync.edge.client import HOClient, HOError
from photosync.edge.files import Fetched, fetch_photo, local_path, remove_file
from photosync.models import EdgePhoto, EdgeSyncState

logger = logging.getLogger(__name__)

MAX_RECORDED_ERRORS = 100
ROW_FIELDS = [
    "product_id",
    "product_sku",
    "product_name",
    "object_key",
    "local_key",
    "filename",
    "size",
    "content_type",
    "checksum",
    "version",
    "is_primary",
    "sort_order",
    "ho_updated_at",
    "synced_at",
]


@dataclass
class PassSummary:
    full: bool
    listed: int = 0
    total: int = 0
    downloaded: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    bytes: int = 0
    reported: int = 0
    complete: bool = False
    watermark: str | None = None
    since: str | None = None
    seconds: float = 0.0
    error: str = ""
    errors: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.complete and not self.failed

    def line(self) -> str:
        state = "complete" if self.ok else ("complete with failures" if self.complete else "INCOMPLETE")
        text = (
            f"edge sync ({'full' if self.full else 'incremental'}) {state}: {self.listed} listed, "
            f"{self.downloaded} downloaded ({self.bytes / 1e6:.1f} MB), {self.unchanged} unchanged, "
            f"{self.deleted} deleted, {self.failed} failed in {self.seconds:.1f}s"
        )
        if self.ok:
            text += f"; watermark {self.watermark}"
        elif self.error:
            text += f"; {self.error}"
        return text

    def as_dict(self) -> dict:
        return asdict(self)


class EdgePass:
    def __init__(
        self, client: HOClient, *, root: Path, full: bool = False, progress: Callable[[int, int], None] | None = None
    ):
        self.client = client
        self.root = Path(root)
        self.full = full
        self.progress = progress
        self.state, _ = EdgeSyncState.objects.get_or_create(ho_url=client.config.url, store_ref=client.config.store_id)
        self.summary = PassSummary(full=full or self.state.watermark is None)
        self.rows: dict[str, EdgePhoto] = {}  # written, waiting for the next flush
        self.replaced_keys: list[str] = []
        self.reports: list[dict] = []
        self.seen: set[str] = set()
        self.finished: queue.SimpleQueue[Future] = queue.SimpleQueue()  # downloads done, in completion order

    # The pass

    def run(self) -> PassSummary:
        started = time.monotonic()
        since = None if self.summary.full else self.state.watermark
        self.summary.since = since.isoformat() if since else None
        server_time = None
        inflight: dict[Future, dict] = {}
        concurrency = max(1, min(settings.EDGE_SYNC_CONCURRENCY, 5))
        # Downloads queued ahead of the pool: enough to keep it busy while this thread fetches the
        # next page or sends a batch of reports.
        window = max(concurrency * 2, 2 * settings.EDGE_SYNC_PAGE_SIZE)
        try:
            with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="edge-sync") as pool:
                try:
                    cursor = None
                    while True:
                        page = self.client.list_photos(
                            since=since.isoformat() if since else None,
                            cursor=cursor,
                            limit=settings.EDGE_SYNC_PAGE_SIZE,
                        )
                        if server_time is None:
                            server_time = page["server_time"]
                            self.summary.total = page["total"]
                        self._plan_page(page["photos"], pool, inflight, window)
                        cursor = page.get("next_cursor")
                        if not page["has_more"] or not cursor:
                            break
                    self._drain(inflight, everything=True)
                    self.summary.complete = True
                finally:
                    self._drain(inflight, everything=True)
            if self.summary.full:
                self._remove_unlisted()
            self._flush_rows()
            self._flush_reports(final=True)
        except HOError as exc:
            self.summary.complete = False
            self.summary.error = str(exc)
            logger.warning("edge sync pass stopped: %s", exc)
            self._flush_rows()
            try:
                self._flush_reports(final=True)
            except HOError:
                pass  # reported again by the next pass (reported_version did not move)
        self.state.last_pass_at = timezone.now()
        if self.summary.complete and not self.summary.failed and server_time:
            self.state.watermark = parse_timestamp(server_time)
            self.state.last_complete_at = self.state.last_pass_at
            self.summary.watermark = server_time
        self.state.save()
        self.summary.seconds = round(time.monotonic() - started, 3)
        return self.summary

    def _plan_page(self, photos: list[dict], pool, inflight: dict, max_inflight: int) -> None:
        local = EdgePhoto.objects.in_bulk([photo["id"] for photo in photos])
        for item in photos:
            self.summary.listed += 1
            self.seen.add(item["id"])
            current = local.get(_uuid(item["id"]))
            if item.get("deleted"):
                self._delete(current)
                self._tick()
                continue
            if current is not None and current.checksum == item["checksum"] and self._file_exists(current):
                self._unchanged(current, item)
                self._tick()
                continue
            while len(inflight) >= max_inflight:
                self._drain(inflight)
            future = pool.submit(fetch_photo, self.client, self.root, item)
            inflight[future] = {"item": item, "current": current}
            future.add_done_callback(self.finished.put)

    def _drain(self, inflight: dict, *, everything: bool = False) -> None:
        """Settle finished downloads: at least one (waiting for it), or all with ``everything``."""
        settled = 0
        while inflight:
            try:
                future = self.finished.get(block=everything or not settled)
            except queue.Empty:
                return
            entry = inflight.pop(future)
            settled += 1
            self._settle(entry["item"], entry["current"], future.result())
            self._tick()

    def _tick(self) -> None:
        if self.progress:
            self.progress(self.summary.listed, self.summary.total)

    # Outcomes (this thread only)

    def _settle(self, item: dict, current: EdgePhoto | None, fetched: Fetched) -> None:
        self.summary.bytes += fetched.bytes_received
        if fetched.gone:
            self._delete(current)
            return
        if not fetched.ok:
            self.summary.failed += 1
            if len(self.summary.errors) < MAX_RECORDED_ERRORS:
                self.summary.errors.append({"photo_id": item["id"], "message": fetched.error})
            self._report(item["id"], "failed", item["version"], error=fetched.error)
            return
        self.summary.downloaded += 1
        row = self._row(item, current)
        if current is not None and current.local_key and current.local_key != fetched.local_key:
            self.replaced_keys.append(current.local_key)
        row.local_key, row.checksum, row.version = fetched.local_key, fetched.checksum, fetched.version
        row.synced_at = timezone.now()
        self._stage(row)
        self._report(item["id"], "synced", row.version, synced_at=row.synced_at)

    def _unchanged(self, current: EdgePhoto, item: dict) -> None:
        self.summary.unchanged += 1
        if (current.version, current.ho_updated_at) != (item["version"], parse_timestamp(item["updated_at"])):
            row = self._row(item, current)
            row.local_key, row.synced_at = current.local_key, current.synced_at
            self._stage(row)
        if current.reported_version != item["version"]:
            self._report(item["id"], "synced", item["version"], synced_at=current.synced_at)

    def _delete(self, current: EdgePhoto | None) -> None:
        if current is None:
            return
        self.rows.pop(str(current.pk), None)
        EdgePhoto.objects.filter(pk=current.pk).delete()
        remove_file(self.root, current.local_key)
        self.summary.deleted += 1

    def _remove_unlisted(self) -> None:
        """After a complete full pass: local photos head office no longer lists are gone."""
        if not self.summary.complete:
            return
        self._flush_rows()
        stale = EdgePhoto.objects.exclude(pk__in=[_uuid(photo_id) for photo_id in self.seen])
        for photo in stale.iterator():
            self._delete(photo)

    def _row(self, item: dict, current: EdgePhoto | None) -> EdgePhoto:
        return EdgePhoto(
            id=_uuid(item["id"]),
            product_id=item.get("product_id"),
            product_sku=item.get("product_sku") or "",
            product_name=item.get("product_name") or "",
            object_key=item["object_key"],
            filename=item["filename"],
            size=item["size"],
            content_type=item["content_type"],
            checksum=item["checksum"],
            version=item["version"],
            is_primary=item["is_primary"],
            sort_order=item["sort_order"],
            ho_updated_at=parse_timestamp(item["updated_at"]),
            reported_version=current.reported_version if current else 0,
        )

    def _file_exists(self, photo: EdgePhoto) -> bool:
        try:
            return local_path(self.root, photo.local_key).is_file()
        except ValueError:
            return False

    def _stage(self, row: EdgePhoto) -> None:
        self.rows[str(row.pk)] = row
        if len(self.rows) >= settings.EDGE_REPORT_BATCH:
            self._flush_rows()

    def _flush_rows(self) -> None:
        if not self.rows:
            return
        EdgePhoto.objects.bulk_create(
            list(self.rows.values()), update_conflicts=True, unique_fields=["id"], update_fields=ROW_FIELDS
        )
        self.rows = {}
        for key in self.replaced_keys:
            remove_file(self.root, key)
        self.replaced_keys = []

    def _report(
        self, photo_id: str, status: str, version: int, *, synced_at: datetime | None = None, error: str | None = None
    ) -> None:
        self.reports.append(
            {
                "photo_id": photo_id,
                "status": status,
                "version": version,
                "synced_at": synced_at.isoformat() if synced_at else None,
                "error": error,
            }
        )
        if len(self.reports) >= settings.EDGE_REPORT_BATCH:
            self._flush_reports()

    def _flush_reports(self, *, final: bool = False) -> None:
        """Send the reports (local rows first, so a confirmed photo always has its row)."""
        while self.reports:
            self._flush_rows()
            batch, self.reports = self.reports[: settings.EDGE_REPORT_BATCH], self.reports[settings.EDGE_REPORT_BATCH :]
            try:
                self.client.report_status(batch)
            except HOError:
                self.reports = batch + self.reports
                raise
            self.summary.reported += len(batch)
            confirmed: dict[int, list] = {}
            for report in batch:
                if report["status"] == "synced":
                    confirmed.setdefault(report["version"], []).append(_uuid(report["photo_id"]))
            for version, ids in confirmed.items():
                EdgePhoto.objects.filter(pk__in=ids, version=version).update(reported_version=version)
            if not final:
                return


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
