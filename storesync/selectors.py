"""Reads of store sync: query sets and figures for the API, the admin, the health wing and
the runner. Nothing here writes; the response shapes are built by ``storesync.presenters``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from catalog.models import Store
from config.jobs import JobStatus
from config.jobs.queued import line_key
from storesync.constants import FREQUENCY_INTERVALS, PRIORITY_RANK, ConflictStatus, Direction
from storesync.engine.entities import ADAPTERS
from storesync.models import (
    DeadLetter,
    StoreSyncJob,
    SyncChange,
    SyncConfig,
    SyncConflict,
    SyncEntity,
    SyncRecordState,
)

FINISHED = [JobStatus.SUCCEEDED, JobStatus.PARTIAL, JobStatus.FAILED, JobStatus.CANCELLED]
# The history's ``status`` filter: API word -> job status.
HISTORY_FILTERS = {
    "success": JobStatus.SUCCEEDED,
    "partial": JobStatus.PARTIAL,
    "failed": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
}


# Scheduling


def next_sync_at(config: SyncConfig) -> datetime | None:
    interval = FREQUENCY_INTERVALS.get(config.sync_frequency)
    if interval is None or config.paused:
        return None
    if config.last_scheduled_at is None:
        return timezone.now()
    return config.last_scheduled_at + interval


# A store's line of waiting jobs


def waiting_jobs(store_id) -> list[StoreSyncJob]:
    """The store's queued jobs in the order they will run: priority, then age (the order of
    ``StoreSyncRunner.line``, read here without the runner)."""
    queued = StoreSyncJob.objects.filter(store_id=store_id, status=JobStatus.QUEUED)
    return sorted(queued, key=line_key(PRIORITY_RANK))


def queue_position(job: StoreSyncJob) -> int:
    """1 for the job that runs next; 0 once it runs or has finished."""
    if job.status != JobStatus.QUEUED:
        return 0
    line = waiting_jobs(job.store_id)
    return next((index for index, queued in enumerate(line, 1) if queued.pk == job.pk), 0)


# Jobs


def visible_jobs(stores: QuerySet[Store]) -> QuerySet[StoreSyncJob]:
    return StoreSyncJob.objects.filter(store__in=stores)


def changes(
    job: StoreSyncJob, *, entity_type: str | None = None, record_pk: int | None = None, field=None, side=None
) -> QuerySet[SyncChange]:
    """A job's change rows, in the order written (``storesync_change_job`` index)."""
    rows = SyncChange.objects.filter(job=job)
    for name, value in (("entity_type", entity_type), ("record_pk", record_pk), ("field", field), ("side", side)):
        if value is not None:
            rows = rows.filter(**{name: value})
    return rows.order_by("id")


def finished_durations(store_id: int, sync_type: str, statuses, limit: int = 10) -> list[float]:
    """Seconds taken by the store's last ``limit`` finished runs of the type (newest first)."""
    runs = (
        StoreSyncJob.objects.filter(store_id=store_id, sync_type=sync_type, status__in=list(statuses))
        .exclude(started_at=None)
        .exclude(finished_at=None)
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:limit]
    )
    return [(finished - started).total_seconds() for started, finished in runs]


def history(
    store: Store,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    entity_type: str | None = None,
    status: str | None = None,
) -> QuerySet[StoreSyncJob]:
    jobs = StoreSyncJob.objects.filter(store=store, status__in=FINISHED)
    if start:
        jobs = jobs.filter(created_at__gte=start)
    if end:
        jobs = jobs.filter(created_at__lte=end)
    if entity_type:
        jobs = jobs.filter(entity_results__has_key=entity_type)
    if status:
        jobs = jobs.filter(status=HISTORY_FILTERS[status])
    return jobs.order_by("-created_at", "-id")


# Conflicts


def conflicts(store: Store, *, status: str | None = None, entity_type: str | None = None) -> QuerySet[SyncConflict]:
    rows = SyncConflict.objects.filter(store=store)
    if status:
        rows = rows.filter(status=status)
    if entity_type:
        rows = rows.filter(entity_type=entity_type)
    return rows.order_by("-created_at", "-id")


def pending_conflict_counts(store: Store) -> dict[str, int]:
    """Pending conflicts per entity type."""
    return dict(
        SyncConflict.objects.filter(store=store, status="pending").values_list("entity_type").annotate(n=Count("id"))
    )


# Status


def day_stats(store: Store, now: datetime) -> dict[str, Any]:
    """The store's syncs finished in the 24 hours before ``now`` (cancelled ones left out)."""
    day = StoreSyncJob.objects.filter(store=store, status__in=FINISHED[:3], finished_at__gte=now - timedelta(hours=24))
    stats = day.aggregate(
        total=Count("id"),
        ok=Count("id", filter=Q(status=JobStatus.SUCCEEDED)),
        failed=Count("id", filter=Q(status=JobStatus.FAILED)),
        errors=Sum("error_count"),
    )
    stats["durations"] = [
        (j.finished_at - j.started_at).total_seconds()
        for j in day.exclude(started_at=None).only("started_at", "finished_at")
    ]
    return stats


def last_finished_job(store: Store) -> StoreSyncJob | None:
    return StoreSyncJob.objects.filter(store=store, status__in=FINISHED[:3]).order_by("-finished_at").first()


def running_job(store: Store) -> StoreSyncJob | None:
    return StoreSyncJob.objects.filter(store=store, status=JobStatus.RUNNING).first()


@dataclass(frozen=True)
class AwaitingHuman:
    """What in a store's sync waits for a person's decision; falsy when nothing does."""

    conflicts: int  # pending conflicts (manual resolution, or a sync run without resolve_conflicts)
    dead_letters: int  # owed records: writes or creates that failed and that no sync has settled yet
    held_jobs: int  # syncs the brake stopped before their first write, to approve or reject

    @property
    def total(self) -> int:
        return self.conflicts + self.dead_letters + self.held_jobs

    def __bool__(self) -> bool:
        return self.total > 0


def awaiting_human(store: Store) -> AwaitingHuman:
    return AwaitingHuman(
        conflicts=SyncConflict.objects.filter(store=store, status=ConflictStatus.PENDING).count(),
        dead_letters=DeadLetter.objects.owed().filter(store=store).count(),
        held_jobs=StoreSyncJob.objects.filter(store=store, status=JobStatus.HELD).count(),
    )


def has_open_dead_letters(store: Store) -> bool:
    return DeadLetter.objects.owed().filter(store=store).exists()


def dead_letter_statuses(pks) -> dict[str, int]:
    """How many of these letters are in each status."""
    rows = DeadLetter.objects.filter(pk__in=list(pks)).values_list("status").annotate(n=Count("pk")).order_by()
    return dict(rows)


def enabled_entities(config: SyncConfig) -> list[SyncEntity]:
    return list(config.entities.filter(enabled=True).order_by("position", "id"))


def synced_record_count(store: Store, entity_type: str) -> int:
    return SyncRecordState.objects.filter(store=store, entity_type=entity_type).count()


def pending_changes(store: Store, entity, adapter) -> int:
    """Records with a change not yet on both sides: platform records changed since the sync last
    settled them (the shop's side is only known by reading it), and the owed records (open dead
    letters: a write or create that failed) not among those."""
    settled = SyncRecordState.objects.filter(
        store=store, entity_type=entity.entity_type, record_pk=OuterRef("pk"), platform_modified=OuterRef("updated_at")
    )
    rows = adapter.model.objects.filter(store=store).exclude(Exists(settled))
    if entity.direction == Direction.TO_PLATFORM or not adapter.writable_in_store:
        rows = rows.exclude(id_origin__isnull=True)
    owed = (
        DeadLetter.objects.owed()
        .filter(store=store, entity_type=entity.entity_type)
        .exclude(record_pk__in=rows.values("pk"))
        .values_list("record_pk", "shop_id")
        .distinct()
    )
    return rows.count() + owed.count()


def filters_of(entity) -> QuerySet:
    return entity.config.filters.filter(entity_type=entity.entity_type).order_by("position", "id")


# The operator console


def platform_records(keys: Iterable[tuple[str, int | None]]) -> dict[tuple[str, int], Any]:
    """The platform records named by (entity type, record pk) pairs: one query per entity type
    present, whatever the number of pairs (a page of conflicts or dead letters)."""
    wanted: dict[str, set[int]] = {}
    for entity_type, pk in keys:
        if pk is not None and entity_type in ADAPTERS:
            wanted.setdefault(entity_type, set()).add(pk)
    return {
        (entity_type, pk): obj
        for entity_type, pks in wanted.items()
        for pk, obj in ADAPTERS[entity_type].model.objects.in_bulk(pks).items()
    }


def conflict_counts(conflicts: QuerySet[SyncConflict]) -> list[dict[str, Any]]:
    """Conflicts by store, entity and field (largest first), in one grouped query."""
    return list(
        conflicts.order_by()
        .values("store_id", "store__code", "entity_type", "field")
        .annotate(count=Count("id"))
        .order_by("-count", "store__code", "entity_type", "field")
    )


def next_pending_conflict(after: SyncConflict) -> SyncConflict | None:
    """The pending conflict an operator takes up next: the same store's first, then any store's."""
    pending = SyncConflict.objects.filter(status=ConflictStatus.PENDING).exclude(pk=after.pk).order_by("id")
    return pending.filter(store_id=after.store_id).first() or pending.first()
