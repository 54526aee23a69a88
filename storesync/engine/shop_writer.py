"""Writes to a store's shop, through the job's connectors (``storesync.engine.connectors``),
with record-level retries.

The connector already retries each idempotent request (GET, PUT) on transient errors.
On top of that, a record write that still fails transiently is attempted again, up to
``STORESYNC_MAX_ATTEMPTS`` attempts in all, with exponential backoff and jitter. A create
(POST) is attempted again only when the shop certainly did not process it (429, 503):
after a timeout the product may exist, and creating it twice would be worse than a dead
letter an operator can check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from catalog.platforms import (
    EcommerceService,
    PartialCreate,
    PlatformError,
    PlatformRateLimited,
    PlatformServerError,
)
from config.error_codes import ErrorCode
from config.jobs.backoff import backoff_delay as jobs_backoff_delay
from storesync.engine.connectors import ShopConnectors
from storesync.engine.entities import EntityAdapter, InvalidValue, Remote

logger = logging.getLogger(__name__)

MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class WriteOp:
    kind: str  # update | create | delete
    shop_id: int | None
    values: dict[str, Any]


@dataclass(frozen=True)
class WriteOutcome:
    op: WriteOp
    remote: Remote | None = None
    error: str = ""
    code: str = ""
    transient: bool = False
    attempts: int = 1
    # A create the shop took but for these values (a follow-up write failed): ``remote`` is
    # the created record, ``error`` why the rest is owed.
    unwritten: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error and (self.remote is not None or self.op.kind == "delete")


def error_code(exc: Exception) -> str:
    if isinstance(exc, PlatformError):
        return exc.code
    return ErrorCode.INVALID_DATA_FORMAT


def retryable(exc: Exception, kind: str) -> bool:
    if not isinstance(exc, PlatformError) or not exc.transient:
        return False
    if kind in ("update", "delete"):
        return True
    return isinstance(exc, PlatformRateLimited) or (isinstance(exc, PlatformServerError) and exc.status_code == 503)


def backoff_delay(attempt: int, base: float) -> float:
    """A record write's retry delay: base, 2 base, 4 base... (at most ``MAX_BACKOFF``), each
    times 0.5 to 1.5 (the hub's one backoff, ``config.jobs.backoff_delay``)."""
    return jobs_backoff_delay(attempt, base=base, cap=MAX_BACKOFF)


class ShopWriter:
    """Runs write operations on the shop with up to ``concurrency`` connectors."""

    def __init__(
        self,
        store,
        service: EcommerceService,
        *,
        concurrency: int | None = None,
        max_attempts: int | None = None,
        backoff: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.connectors = ShopConnectors(store, service, concurrency=concurrency)
        self.max_attempts = max(1, max_attempts or settings.STORESYNC_MAX_ATTEMPTS)
        self.backoff = settings.STORESYNC_RETRY_BACKOFF if backoff is None else backoff
        self.sleep = sleep

    def __enter__(self) -> ShopWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.connectors.close()

    def run(self, adapter: EntityAdapter, ops: Sequence[WriteOp]) -> list[WriteOutcome]:
        """Every operation's outcome, in the order of ``ops``."""
        return self.connectors.map(lambda service, op: self._attempt(adapter, op, service), ops)

    def _attempt(self, adapter: EntityAdapter, op: WriteOp, service: EcommerceService) -> WriteOutcome:
        attempt = 0
        while True:
            attempt += 1
            try:
                if op.kind == "delete":
                    adapter.delete_store(service, op.shop_id)
                    return WriteOutcome(op, attempts=attempt)
                if op.kind == "create":
                    remote = adapter.create_store(service, op.values)
                else:
                    remote = adapter.update_store(service, op.shop_id, op.values)
                return WriteOutcome(op, remote=remote, attempts=attempt)
            except PartialCreate as exc:  # never attempted again: the record exists now
                return WriteOutcome(
                    op,
                    remote=adapter.remote(exc.created),
                    error=str(exc),
                    code=exc.code,
                    transient=exc.transient,
                    attempts=attempt,
                    unwritten=exc.unwritten,
                )
            except (PlatformError, InvalidValue, ValueError) as exc:
                if attempt < self.max_attempts and retryable(exc, op.kind):
                    delay = backoff_delay(attempt, self.backoff)
                    logger.info(
                        "shop write %s %s failed (%s); attempt %d in %.2fs",
                        op.kind,
                        op.shop_id,
                        exc,
                        attempt + 1,
                        delay,
                    )
                    self.sleep(delay)
                    continue
                transient = isinstance(exc, PlatformError) and exc.transient
                return WriteOutcome(op, error=str(exc), code=error_code(exc), transient=transient, attempts=attempt)
