"""Connectors to one store's shop, up to ``STORESYNC_WRITE_CONCURRENCY`` at once: the job's
own, and one per thread of a pool (a connector is not thread-safe). Shop writes
(``ShopWriter``) and a full sync's reads by id windows (``IdScanner``) share the pool, so the
shop never has more requests of a job at once than the store's configured concurrency."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import TypeVar

from django.conf import settings

from catalog.platforms import EcommerceService, create_ecommerce_service

Item = TypeVar("Item")
Result = TypeVar("Result")
Work = Callable[[EcommerceService, Item], Result]


class ShopConnectors:
    def __init__(self, store, service: EcommerceService, *, concurrency: int | None = None) -> None:
        self.store = store
        self.service = service  # the job's own connector, used when the work is not spread
        self.concurrency = max(1, concurrency or settings.STORESYNC_WRITE_CONCURRENCY)
        self._local = threading.local()
        self._services: list[EcommerceService] = []
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        for service in self._services:
            service.close()
        self._services.clear()

    def map(self, work: Work, items: Sequence[Item]) -> list[Result]:
        """``work(connector, item)`` for every item, spread over the pool; results in order."""
        if self.concurrency == 1 or len(items) <= 1:
            return [work(self.service, item) for item in items]
        return list(self._executor().map(lambda item: self._call(work, item), items))

    def read_ahead(self, work: Work, items: Iterable[Item], *, ahead: int = 0) -> Iterator[Result]:
        """``work(connector, item)`` for each item in turn, on the pool, up to ``concurrency``
        at once and at most ``concurrency + ahead`` items ahead of the one the caller waits
        for (so the shop is read while the caller works); results in order. Closing the
        iterator drops what was not started."""
        if self.concurrency == 1:
            for item in items:
                yield work(self.service, item)
            return
        pool, items = self._executor(), iter(items)
        depth = self.concurrency + max(0, ahead)
        running: deque[Future] = deque(pool.submit(self._call, work, item) for item in islice(items, depth))
        try:
            while running:
                result = running.popleft().result()
                for item in islice(items, 1):
                    running.append(pool.submit(self._call, work, item))
                yield result
        finally:
            for future in running:
                future.cancel()

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="shop-connector")
        return self._pool

    def _call(self, work: Work, item: Item) -> Result:
        return work(self._thread_service(), item)

    def _thread_service(self) -> EcommerceService:
        service = getattr(self._local, "service", None)
        if service is None:
            service = create_ecommerce_service(self.store)
            self._local.service = service
            with self._lock:
                self._services.append(service)
        return service
