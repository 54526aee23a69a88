"""Reading a shop's changes by keyset on ``date_upd``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice

from django.utils.dateparse import parse_datetime

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


def chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
