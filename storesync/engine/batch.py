"""The data a sync batch carries between its steps, and the errors that stop a job."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from django.db import models

from config.jobs.queued import JobCancelled
from storesync.engine import merge
from storesync.engine.entities import Remote
from storesync.models import SyncRecordState


class SyncCancelled(JobCancelled):
    """The store was paused while the job ran (the runner cancels the job)."""


class ShopUnavailable(Exception):
    """Most writes of a batch failed transiently: the shop is down, retry the job later."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass
class Counts:
    records_synced: int = 0
    records_updated: int = 0
    records_created: int = 0
    records_deleted: int = 0  # deleted by delete propagation (storesync.engine.deletes)
    conflicts_resolved: int = 0
    conflicts_pending: int = 0
    errors: int = 0
    skipped: int = 0
    overwritten: int = 0
    shop_writes: int = 0

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Pair:
    obj: models.Model | None
    remote: Remote | None
    state: SyncRecordState | None


@dataclass
class Item:
    pair: Pair
    result: merge.MergeResult
    plan: merge.ConflictPlan
    platform_modified: datetime | None = None  # before this sync's write
    platform_values: dict[str, Any] = field(default_factory=dict)  # before this sync's write
    settled_rows: list[int] = field(default_factory=list)  # conflict rows settled for this record


@dataclass
class BatchOutcome:
    counts: Counts = field(default_factory=Counts)
    errors: list[dict] = field(default_factory=list)
    shop_creates: list[int] = field(default_factory=list)  # platform pks to create in the shop


@dataclass
class BatchPlan:
    now: datetime
    outcome: BatchOutcome = field(default_factory=BatchOutcome)
    items: list[Item] = field(default_factory=list)
    creates: list[tuple[Remote, dict]] = field(default_factory=list)
    failures: list[tuple[Item, Any]] = field(default_factory=list)
    created_changes: list[Any] = field(default_factory=list)  # history rows of ``creates`` (SyncChange)


def new_entity_result() -> dict[str, Any]:
    return {
        "status": "pending",
        **Counts().as_dict(),
        "records_total": 0,
        "started_at": None,
        "finished_at": None,
        "duration": None,
    }
