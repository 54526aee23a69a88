"""Reading a shop: its changes by keyset on ``date_upd`` (``ShopScanner``), or all of its
records by windows of ids read in parallel (``IdScanner``, a full sync)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice

from django.utils.dateparse import parse_datetime

from storesync.engine.connectors import ShopConnectors
from storesync.engine.entities import EntityAdapter, Remote


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def from_iso(text: str | None) -> datetime | None:
    return parse_datetime(text) if text else None


class ShopScanner:
    """The shop's records modified at or after ``since``, in ``(date_upd, id)`` order.

    The connector reads them by keyset (``EcommerceService.iter_products``), so a record
    modified while the scan runs moves behind the cursor and is read again, never lost.
    ``cursor`` and ``after_id`` are where the scan stands (the last record yielded): a
    checkpoint, from which a redelivered job resumes.
    """

    def __init__(
        self,
        adapter: EntityAdapter,
        service,
        *,
        since: datetime | None,
        page_size: int,
        cursor: datetime | None = None,
        after_id: int | None = None,
    ):
        self.adapter, self.service, self.page_size = adapter, service, page_size
        self.cursor = cursor if cursor is not None else since
        self.after_id = after_id if cursor is not None else None

    def __iter__(self) -> Iterator[Remote]:
        records = self.adapter.iterate(self.service, self.cursor, self.page_size, after_id=self.after_id)
        try:
            for record in records:
                remote = self.adapter.remote(record)
                if remote.modified is not None:
                    self.cursor, self.after_id = remote.modified, remote.id
                yield remote
        finally:
            close = getattr(records, "close", None)
            if close:
                close()


class IdScanner:
    """Every shop record, in id order, read in windows of ``page_size`` ids (``fetch`` by id),
    the store's concurrency of windows at once (``ShopConnectors.read_ahead``): a keyset on
    ``date_upd`` must wait for each page to know where the next one starts, windows of ids
    need not.

    ``cursor`` is the shop's latest change when the scan began: a record changed while the
    scan runs has a ``date_upd`` at or after it, so the next sync, which reads from the
    watermark this cursor becomes, reads it. The scan ends at the highest id, asked again
    at the end for records created meanwhile. ``cursor`` and ``after_id`` (the last record
    yielded) are the checkpoint a redelivered job resumes from.
    """

    def __init__(
        self,
        adapter: EntityAdapter,
        connectors: ShopConnectors,
        *,
        page_size: int,
        ahead: int = 0,
        cursor: datetime | None = None,
        after_id: int | None = None,
    ):
        self.adapter, self.connectors, self.page_size, self.ahead = adapter, connectors, page_size, ahead
        self.cursor, self.after_id = cursor, after_id

    def __iter__(self) -> Iterator[Remote]:
        extent = self.adapter.extent(self.connectors.service)
        if self.cursor is None:
            self.cursor = extent.last_modified
        start = (self.after_id or 0) + 1
        while extent.last_id is not None and start <= extent.last_id:
            windows = [
                range(first, min(first + self.page_size, extent.last_id + 1))
                for first in range(start, extent.last_id + 1, self.page_size)
            ]
            for page in self.connectors.read_ahead(self.adapter.fetch, windows, ahead=self.ahead):
                for remote in page:
                    self.after_id = remote.id
                    yield remote
            start = extent.last_id + 1
            extent = self.adapter.extent(self.connectors.service)


def chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
