"""What a sync job writes besides the records: conflict rows (committed before the shop is
written), dead letters, the job's progress and checkpoint, and each entity's watermarks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from datetime import datetime

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from config.error_codes import ErrorCode
from config.jobs import job_changed
from storesync.constants import ConflictStatus, SyncType
from storesync.engine import merge
from storesync.engine.batch import BatchOutcome, BatchPlan, Item, SyncCancelled, new_entity_result
from storesync.engine.scanning import from_iso, iso
from storesync.models import DeadLetter, DeadLetterStatus, StoreSyncJob, SyncConflict, SyncEntity, SyncRecordState


class Ledger:
    """The bookkeeping of one entity of one job; :class:`storesync.engine.sync.EntitySync` is given one."""

    def __init__(
        self, job: StoreSyncJob, entity: SyncEntity, model: type[models.Model], *, progress: Callable, dry=False
    ):
        """``progress``: the job runner's ``progress()``, the one writer of the job's counters and errors.
        ``dry``: a preview (or the brake's plan): no dead letter, owed letter or watermark is
        written, only the job's own row."""
        self.job, self.entity, self.model = job, entity, model
        self.progress = progress
        self.dry = dry
        self.store = job.store
        self.name = entity.entity_type
        self._extra_total = 0
        self._pending_rows: dict[tuple[int, str], SyncConflict] = {}
        self._created, self._analyze_at = 0, settings.STORESYNC_BATCH_SIZE  # keep_statistics
        self.has_dead_letters = self.owed_letters().exists()

    def existing_conflicts(self, record_pks: list[int]):
        pending: dict[int, dict[str, tuple]] = defaultdict(dict)
        ignored: dict[int, dict[str, set]] = defaultdict(lambda: defaultdict(set))
        self._pending_rows: dict[tuple[int, str], SyncConflict] = {}
        if not record_pks:
            return pending, ignored
        rows = SyncConflict.objects.filter(
            store=self.store,
            entity_type=self.name,
            record_pk__in=record_pks,
            status__in=[ConflictStatus.PENDING, ConflictStatus.IGNORED],
        )
        for row in rows:
            if row.status == ConflictStatus.PENDING:
                pending[row.record_pk][row.field] = (row.store_value, row.platform_value)
                self._pending_rows[(row.record_pk, row.field)] = row
            else:
                ignored[row.record_pk][row.field].add(merge.ignored_key(row.store_value, row.platform_value))
        return pending, ignored

    def journal_conflicts(self, plan: BatchPlan) -> None:
        """Write the batch's conflict rows. A replayed batch (same job) adds no duplicates."""
        now, new, changed = plan.now, [], []
        pks = [item.pair.obj.pk for item in plan.items if item.plan.create]
        recorded = set()
        if pks:
            recorded = {
                (row.record_pk, row.field, repr(row.store_value), repr(row.platform_value))
                for row in SyncConflict.objects.filter(job=self.job, record_pk__in=pks)
            }
        owners: list[Item] = []
        for item in plan.items:
            obj, remote = item.pair.obj, item.pair.remote
            for c in item.plan.create:
                if (obj.pk, c.field, repr(c.store_value), repr(c.platform_value)) in recorded:
                    continue
                new.append(
                    SyncConflict(
                        store=self.store,
                        job=self.job,
                        entity_type=self.name,
                        record_pk=obj.pk,
                        shop_id=remote.id,
                        field=c.field,
                        store_value=c.store_value,
                        platform_value=c.platform_value,
                        base_value=c.base_value,
                        last_modified_store=remote.modified,
                        last_modified_platform=item.platform_modified,
                        status=merge.conflict_status(c),
                        resolution=c.decided_by,
                        resolved_value=None if c.pending else c.value,
                        resolved_at=None if c.pending else now,
                    )
                )
                owners.append(item)
            for c in item.plan.update:
                row = self._pending_rows[(obj.pk, c.field)]
                row.store_value, row.platform_value = c.store_value, c.platform_value
                row.last_modified_store, row.last_modified_platform, row.job, row.updated_at = (
                    remote.modified,
                    item.platform_modified,
                    self.job,
                    now,
                )
                if not c.pending:
                    row.status, row.resolution, row.resolved_value, row.resolved_at = (
                        ConflictStatus.RESOLVED,
                        c.decided_by,
                        c.value,
                        now,
                    )
                changed.append(row)
            for name, reason in item.plan.close:
                row = self._pending_rows[(obj.pk, name)]
                row.status, row.resolution, row.resolved_at, row.job, row.updated_at = (
                    ConflictStatus.RESOLVED,
                    reason,
                    now,
                    self.job,
                    now,
                )
                row.resolved_value = item.result.base.get(name)
                changed.append(row)
        if new:
            SyncConflict.objects.bulk_create(new)
            for row, item in zip(new, owners, strict=True):
                if row.status == ConflictStatus.RESOLVED:
                    item.settled_rows.append(row.pk)
        if changed:
            SyncConflict.objects.bulk_update(
                changed,
                [
                    "store_value",
                    "platform_value",
                    "last_modified_store",
                    "last_modified_platform",
                    "status",
                    "resolution",
                    "resolved_value",
                    "resolved_at",
                    "job",
                    "updated_at",
                ],
            )

    def forget_conflicts(self, plan: BatchPlan, items: list[Item]) -> None:
        """Settled conflicts of records whose write failed: not applied, so not recorded."""
        pks = [pk for item in items for pk in item.settled_rows]
        if pks:
            SyncConflict.objects.filter(pk__in=pks).delete()

    def dead_letter(
        self,
        outcome: BatchOutcome,
        operation: str,
        record_pk,
        shop_id,
        payload: dict,
        error: str,
        code: str,
        *,
        attempts: int = 1,
    ) -> None:
        """Record a failed write: the record's owed letter for the operation (one per record and
        operation) is pending again with the attempts added and the latest error, or a new one."""
        outcome.counts.errors += 1
        if self.dry:
            outcome.errors.append(_error(self.name, operation, record_pk, shop_id, code, error))
            return
        values = {"job": self.job, "payload": _jsonable(payload), "error": error[:2000], "code": code}
        record = {"record_pk": record_pk} if record_pk is not None else {"record_pk": None, "shop_id": shop_id}
        same = self.owed_letters().filter(operation=operation, **record)
        if not same.update(
            **values, status=DeadLetterStatus.PENDING, attempts=F("attempts") + attempts, updated_at=timezone.now()
        ):
            DeadLetter.objects.create(
                store=self.store,
                entity_type=self.name,
                operation=operation,
                record_pk=record_pk,
                shop_id=shop_id,
                attempts=attempts,
                **values,
            )
        self.has_dead_letters = True
        outcome.errors.append(_error(self.name, operation, record_pk, shop_id, code, error))

    def record_error(self, outcome: BatchOutcome, operation: str, record_pk, shop_id, code: str, error: str) -> None:
        """A failed write that owes no letter (a tombstone stays open and is tried again)."""
        outcome.counts.errors += 1
        outcome.errors.append(_error(self.name, operation, record_pk, shop_id, code, error))

    def begin_creates(self, payloads: dict[int, dict]) -> tuple[dict[int, int], set[int]]:
        """Before the shop is asked to create these platform records (pk -> values): each is
        owed a create from now on (a letter committed first, with no job, so a redelivered
        job's owed pass finds it), and a worker dying before the link is committed leaves it
        owed. Returns the new letters (record pk -> letter pk), dropped once the record is
        linked, and the records owed a create already: an earlier attempt may have made them."""
        owed = set(
            self.owed_letters()
            .filter(operation="create_store", record_pk__in=list(payloads))
            .values_list("record_pk", flat=True)
        )
        letters = [
            DeadLetter(
                store=self.store,
                entity_type=self.name,
                operation="create_store",
                record_pk=pk,
                payload=_jsonable(values),
                error=CREATE_IN_FLIGHT,
                code=ErrorCode.INTERNAL_ERROR,
                attempts=0,
            )
            for pk, values in payloads.items()
            if pk not in owed
        ]
        with transaction.atomic():
            DeadLetter.objects.bulk_create(letters)
        self.has_dead_letters = True
        return {letter.record_pk: letter.pk for letter in letters}, owed

    def owed_letters(self) -> QuerySet[DeadLetter]:
        return DeadLetter.objects.owed().filter(store=self.store, entity_type=self.name)

    def owed(self, *, after: int, limit: int) -> list[DeadLetter]:
        """The next owed letters (by id, after ``after``) that this job has not written."""
        return list(self.owed_letters().filter(pk__gt=after).exclude(job=self.job).order_by("pk")[:limit])

    def settle(self, *, record_pks: Collection[int] = (), shop_ids: Collection[int] = (), now: datetime) -> None:
        """The records converged: their owed letters are resolved."""
        if self.has_dead_letters and (record_pks or shop_ids):
            self.owed_letters().filter(Q(record_pk__in=record_pks) | Q(shop_id__in=shop_ids)).update(
                status=DeadLetterStatus.RESOLVED, updated_at=now
            )

    def report_owed(self) -> None:
        """Owed records this job read but did not settle (gone from a side, out of scope, not
        allowed by the direction): still owed, so they count as errors and the job is partial.
        A dry run settles nothing by design: its plan says what it would do, its letters stay."""
        if self.dry:
            return
        left = self.owed_letters().exclude(job=self.job)
        if self.job.sync_type == SyncType.RECORDS:
            left = left.filter(requeue_job=self.job)
        letters = list(left)
        if not letters:
            return
        outcome = BatchOutcome()
        for letter in letters:
            outcome.counts.errors += 1
            outcome.errors.append(
                _error(self.name, letter.operation, letter.record_pk, letter.shop_id, letter.code, STILL_OWED)
            )
        with transaction.atomic():
            if not self.dry:
                left.filter(pk__in=[letter.pk for letter in letters]).update(status=DeadLetterStatus.PENDING)
            self.save_progress(outcome, None)

    def check_cancelled(self) -> None:
        if StoreSyncJob.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise SyncCancelled()

    def add_total(self, amount: int) -> None:
        self._extra_total += amount

    def save_checkpoint(self, checkpoint: dict) -> None:
        with transaction.atomic():
            job = StoreSyncJob.objects.select_for_update().get(pk=self.job.pk)
            job.checkpoint = {**job.checkpoint, self.name: checkpoint}
            job.save(update_fields=["checkpoint"])
            self.job.checkpoint = job.checkpoint

    def save_progress(self, outcome: BatchOutcome, checkpoint: dict | None) -> None:
        """Add a batch's counts to the entity's result and the job's counters (through the runner),
        with its checkpoint (inside the batch's transaction)."""
        counts = outcome.counts
        job = StoreSyncJob.objects.select_for_update().get(pk=self.job.pk)
        result = job.entity_results.setdefault(self.name, new_entity_result())
        for key, value in counts.as_dict().items():
            result[key] = result.get(key, 0) + value
        result["records_total"] = max(result.get("records_total", 0) + self._extra_total, result["records_synced"])
        self._extra_total = 0
        result["status"] = "in_progress"
        if checkpoint is not None:
            job.checkpoint = {**job.checkpoint, self.name: checkpoint}
        job.save(update_fields=["entity_results", "checkpoint"])
        self.job.entity_results, self.job.checkpoint = job.entity_results, job.checkpoint
        self.progress(
            total=sum(r.get("records_total", 0) for r in job.entity_results.values()),
            processed=counts.records_synced,
            succeeded=max(0, counts.records_synced - counts.errors),
            failed=counts.errors,
            counters={key: getattr(counts, key) for key in PROGRESS_COUNTERS},
            errors=outcome.errors,
        )

    def keep_statistics(self, created: int) -> None:
        """Refresh the planner's statistics of the tables a run fills while it fills them, each
        time the records it created double (from one batch's worth): a first full sync into
        empty tables would otherwise look its batches' ids up with plans made for a near-empty
        table, a scan of every row the run wrote before (quadratic in the records)."""
        if self.dry or not created:
            return
        self._created += created
        if self._created >= self._analyze_at:
            refresh_statistics(self.model, SyncRecordState)
            self._analyze_at = 2 * self._created

    def finish(self, *, store_watermark: datetime | None, platform_started: datetime | None) -> None:
        if self.dry:
            store_watermark = platform_started = None
        result = self.job.entity_results.get(self.name) or {}
        if not self.dry and result.get("records_created", 0) + result.get("records_updated", 0) >= ANALYZE_AFTER:
            refresh_statistics(self.model, SyncRecordState)
        now = timezone.now()
        with transaction.atomic():
            entity = SyncEntity.objects.select_for_update().get(pk=self.entity.pk)
            if store_watermark is not None:
                entity.store_watermark = store_watermark
            if platform_started is not None:
                entity.platform_watermark = platform_started
            if self.job.sync_type != SyncType.RECORDS and not self.dry:
                entity.last_sync_at = now
                if self.job.sync_type == SyncType.FULL:
                    entity.last_full_sync_at = now
            job = StoreSyncJob.objects.select_for_update().get(pk=self.job.pk)
            result = job.entity_results.setdefault(self.name, new_entity_result())
            result["status"] = "completed"
            result["finished_at"] = iso(now)
            started = from_iso(result.get("started_at"))
            result["duration"] = round((now - started).total_seconds(), 3) if started else None
            if not self.dry:
                entity.last_status = "partial" if result.get("errors") else "synced"
            entity.save(
                update_fields=[
                    "store_watermark",
                    "platform_watermark",
                    "last_sync_at",
                    "last_full_sync_at",
                    "last_status",
                ]
            )
            job.checkpoint = {k: v for k, v in job.checkpoint.items() if k != self.name}
            job.save(update_fields=["entity_results", "checkpoint"])
            _copy(job, self.job)
            transaction.on_commit(lambda: job_changed.send(sender=StoreSyncJob, job=self.job))


# Per-batch counts added to the job's ``counters``.
PROGRESS_COUNTERS = ("records_updated", "records_created", "conflicts_resolved", "conflicts_pending", "shop_writes")
# After a sync that wrote this many records (a first full sync), the tables' planner
# statistics are refreshed at once rather than at autovacuum's next round.
ANALYZE_AFTER = 5000


def refresh_statistics(*tables: type[models.Model]) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f'ANALYZE "{model._meta.db_table}"')


CREATE_IN_FLIGHT = (
    "The shop was asked to create this record and its answer was not recorded (the worker stopped): "
    "the next sync looks the record up in the shop by its identity before creating it again."
)
STILL_OWED = "Still owed: the record was not synced by this job (gone from a side or out of scope)."


def _error(entity: str, operation: str, record_pk, shop_id, code: str, message: str) -> dict:
    return {
        "entity": entity,
        "operation": operation,
        "record_pk": record_pk,
        "shop_id": shop_id,
        "code": code,
        "message": message[:500],
    }


def _jsonable(values: dict) -> dict:
    return {
        k: (v if isinstance(v, (str, int, float, bool, dict, list, type(None))) else str(v)) for k, v in values.items()
    }


def _copy(source: models.Model, target: models.Model) -> None:
    for f in source._meta.concrete_fields:
        setattr(target, f.attname, getattr(source, f.attname))
