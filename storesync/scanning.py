"""Reading a shop's changes by keyset on ``date_upd``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice

from django.utils.dateparse import parse_datetime

from storesync.entities import EntityAdapter, Remote


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def from_iso(text: str | None) -> datetime | None:
    return parse_datetime(text) if text else None


class ShopScanner:
    """The shop's records modified at or after ``since``, oldest change first, by keyset.

    After each page the next request starts at the last ``date_upd`` seen
    (``filter[date_upd]=[cursor,...]``) instead of the next offset: a record modified while
    the scan runs moves to the end of the order, and with offsets the record behind it
    would slip into an already-read page and be lost. Records at the cursor's second
    that were already read are skipped by id. When a whole page sits at one second
    (more records changed in one second than a page holds), the scan goes on by offset
    until the second changes.
    """

    def __init__(self, adapter: EntityAdapter, service, *, since: datetime | None, page_size: int,
                 cursor: datetime | None = None, seen: Iterable[int] = ()):
        self.adapter, self.service, self.page_size = adapter, service, page_size
        self.cursor = cursor if cursor is not None else since
        self.seen = set(seen)

    def __iter__(self) -> Iterator[Remote]:
        while True:
            records = self.adapter.iterate(self.service, self.cursor, self.page_size)
            page_start, advanced, count, restart = self.cursor, False, 0, False
            try:
                for record in records:
                    count += 1
                    remote = self.adapter.remote(record)
                    if not (remote.modified == self.cursor and remote.id in self.seen):
                        if remote.modified != self.cursor:
                            self.cursor, self.seen = remote.modified, set()
                        self.seen.add(remote.id)
                        yield remote
                    advanced = advanced or remote.modified != page_start
                    if count % self.page_size == 0:
                        if advanced:
                            restart = True
                            break
                        page_start = self.cursor
            finally:
                close = getattr(records, "close", None)
                if close:
                    close()
            if not restart:
                return



def chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
