"""The sync engine: read what changed on both sides, merge each record (``storesync.merge``),
write the outcome to both sides, remember the new base.

For each entity of a job, two passes:

1. **Store pass.** The shop's records modified since the entity's store watermark (all of
   them for a full sync), read by keyset on ``date_upd`` (see :class:`ShopScanner`), are
   merged with their platform counterparts in batches.
2. **Platform pass.** The platform's records modified since the platform watermark (all
   of them for a full sync), minus those the store pass just settled (their ``updated_at``
   is the one the sync state remembers), are merged with their shop counterparts,
   fetched by id in batches of 100; records that exist only on the platform are created
   in the shop when the direction allows.

A batch runs under the store's lock (``storesync.locks``), so a conflict resolution
cannot interleave with it, in three steps: merge it and commit the decisions (conflict
rows, dead letters); write the shop through the connector, a few records at a time
(``ShopWriter``); commit the platform's writes (bulk operations), the new bases and the
job's progress with its checkpoint. A redelivered job resumes after its last committed
batch. Replaying a batch whose shop writes happened finds both sides equal and writes
nothing again, and its conflicts were recorded before those writes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.models import Customer
from config.jobs import MAX_RECORDED_ERRORS, job_changed
from storesync import merge
from storesync.constants import CREATE_FIELDS, ConflictStatus, Direction, SyncType
from storesync.entities import ADAPTERS, EntityAdapter, InvalidValue, Remote, validate
from storesync.locks import store_lock
from storesync.models import (
    DeadLetter,
    DeadLetterStatus,
    StoreSyncJob,
    SyncConflict,
    SyncEntity,
    SyncRecordState,
)
from storesync.shop_writer import ShopWriter, WriteOp

logger = logging.getLogger(__name__)


class SyncCancelled(Exception):
    """The store was paused while the job ran."""


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


class EntitySync:
    """One entity of one job."""

    def __init__(self, job: StoreSyncJob, entity: SyncEntity, service, writer: ShopWriter):
        self.job, self.entity, self.service, self.writer = job, entity, service, writer
        self.store = job.store
        self.adapter: EntityAdapter = ADAPTERS[entity.entity_type]
        self.model = self.adapter.model
        config = entity.config
        rules = tuple(
            merge.Rule(r.name, r.field, r.condition, r.action)
            for r in config.rules.filter(entity_type=entity.entity_type).order_by("position", "id")
        )
        self.policy = merge.Policy(
            fields=entity.effective_fields,
            direction=entity.direction,
            strategy=entity.conflict_resolution,
            rules=rules,
            resolve_conflicts=job.options.get("resolve_conflicts", True),
        )
        self.filters = [
            merge.Filter(f.field, f.operator, f.value)
            for f in config.filters.filter(entity_type=entity.entity_type).order_by("position", "id")
        ]
        excluded = set(entity.exclude_fields or ())
        self.create_fields = tuple(dict.fromkeys(
            [*self.policy.fields, *(f for f in CREATE_FIELDS[entity.entity_type] if f not in excluded)]
        ))
        self.validate = job.options.get("validate_data", True)
        self.to_platform_allowed = entity.direction in (Direction.BIDIRECTIONAL, Direction.TO_PLATFORM)
        self.to_store_allowed = (
            entity.direction in (Direction.BIDIRECTIONAL, Direction.TO_STORE) and self.adapter.writable_in_store
        )
        self.batch_size = settings.STORESYNC_BATCH_SIZE
        self.page_size = settings.STORESYNC_PAGE_SIZE
        self.handled: set[int] = set()  # platform pks merged by the store pass of this run
        self.has_dead_letters = DeadLetter.objects.filter(
            store=self.store, entity_type=entity.entity_type,
            status__in=[DeadLetterStatus.PENDING, DeadLetterStatus.REQUEUED],
        ).exists()

    @property
    def name(self) -> str:
        return self.entity.entity_type

    # The passes

    def run(self) -> None:
        if self.job.sync_type == SyncType.RECORDS:
            self.run_records()
            self.finish(store_watermark=None, platform_started=None)
            return
        full = self.job.sync_type == SyncType.FULL
        checkpoint = dict(self.job.checkpoint.get(self.name) or {})
        if checkpoint.get("phase", "store") == "store":
            since = None if full else self.entity.store_watermark
            scanner = ShopScanner(
                self.adapter, self.service, since=since, page_size=self.page_size,
                cursor=from_iso(checkpoint.get("cursor")), seen=checkpoint.get("seen", ()),
            )
            for batch in _chunks(scanner, self.batch_size):
                self.check_cancelled()
                checkpoint = {"phase": "store", "cursor": iso(scanner.cursor), "seen": sorted(scanner.seen)}
                self.store_batch(batch, checkpoint)
            reached = scanner.cursor
            if self.entity.store_watermark and (reached is None or reached < self.entity.store_watermark):
                reached = self.entity.store_watermark
            checkpoint = {"phase": "platform", "store_watermark": iso(reached), "platform_started": iso(timezone.now())}
            self.save_checkpoint(checkpoint)
        self.platform_pass(checkpoint, full=full)
        self.finish(
            store_watermark=from_iso(checkpoint.get("store_watermark")),
            platform_started=from_iso(checkpoint.get("platform_started")),
        )

    def platform_pass(self, checkpoint: dict, *, full: bool) -> None:
        """Platform records changed since the watermark and not settled by the sync state.

        Candidates are scanned by keyset (``pk``, or ``updated_at, pk``); the settled ones
        (their ``updated_at`` is the one the sync state remembers) are dropped with one
        indexed look-up per page, which stays fast whatever the planner's statistics say.
        """
        rows = self.model.objects.filter(store=self.store)
        since = self.entity.platform_watermark
        if not full and since is not None:
            rows = rows.filter(updated_at__gte=since - timedelta(seconds=settings.STORESYNC_CLOCK_SKEW))
        if not self.to_store_allowed:
            rows = rows.exclude(id_origin__isnull=True)  # nothing to do with records only on the platform
        keyset = ["pk"] if full else ["updated_at", "pk"]
        scan = rows.order_by(*keyset).values_list("pk", "updated_at")
        states = SyncRecordState.objects.filter(store=self.store, entity_type=self.name)
        exhausted = False
        while not exhausted:
            self.check_cancelled()
            todo: list[int] = []
            while len(todo) < self.batch_size:
                cursor = checkpoint.get("platform_cursor")
                page = list((scan.filter(_after(keyset, cursor)) if cursor is not None else scan)[: self.batch_size])
                if page:
                    last_pk, last_modified = page[-1]
                    checkpoint["platform_cursor"] = [last_pk] if full else [iso(last_modified), last_pk]
                    settled = set(states.filter(record_pk__in=[pk for pk, _ in page]).values_list(
                        "record_pk", "platform_modified"))
                    todo += [pk for pk, modified in page if (pk, modified) not in settled and pk not in self.handled]
                if len(page) < self.batch_size:
                    exhausted = True
                    break
            if not todo:
                self.save_checkpoint(dict(checkpoint))
                continue

            def load(todo=todo) -> list[Pair]:
                rows = list(self.model.objects.filter(pk__in=todo).order_by("pk"))
                self.add_total(len(rows))
                return self.platform_pairs(rows)

            self.process(load, checkpoint)

    def run_records(self) -> None:
        """Only the records a job names (a dead letter requeued)."""
        wanted = (self.job.params.get("records") or {}).get(self.name) or {}
        pks = [int(pk) for pk in wanted.get("record_pks", [])]
        shop_ids = [int(i) for i in wanted.get("shop_ids", [])]
        self.add_total(len(pks) + len(shop_ids))

        def load() -> list[Pair]:
            rows = list(self.model.objects.filter(store=self.store).filter(Q(pk__in=pks) | Q(id_origin__in=shop_ids)))
            known = {row.id_origin for row in rows if row.id_origin is not None}
            pairs = self.platform_pairs(rows)
            missing = [i for i in shop_ids if i not in known]
            remotes = self.adapter.fetch(self.service, missing) if missing else []
            states = self.states(shop_ids=[r.id for r in remotes])
            return pairs + [Pair(None, remote, states.get(remote.id)) for remote in remotes]

        self.process(load, None)

    def store_batch(self, remotes: list[Remote], checkpoint: dict) -> None:
        self.add_total(len(remotes))

        def load() -> list[Pair]:
            ids = [remote.id for remote in remotes]
            objs = {obj.id_origin: obj for obj in self.model.objects.filter(store=self.store, id_origin__in=ids)}
            states = self.states(shop_ids=ids)
            pairs = []
            for remote in remotes:
                obj, state = objs.get(remote.id), states.get(remote.id)
                if state is not None and obj is not None and state.record_pk != obj.pk:
                    state = None  # the platform record was relinked: no common base
                pairs.append(Pair(obj, remote, state))
                if obj is not None:
                    self.handled.add(obj.pk)
            return pairs

        self.process(load, checkpoint)

    def process(self, load, checkpoint: dict | None) -> bool:
        """One batch, under the store's lock: merge and record the decisions (conflicts)
        and commit; write the shop; write the platform, the new bases and the job's progress
        and commit. Conflicts are committed before the shop is written, so a crash between
        the shop's writes and the last commit cannot make a settled conflict disappear.
        Returns False when ``load`` found nothing left."""
        with store_lock(self.store.pk):
            with transaction.atomic():
                pairs = load()
                if pairs is None:
                    return False
                plan = self.plan(pairs)
            self.write_shop(plan)
            with transaction.atomic():
                self.apply(plan)
                self.save_progress(plan.outcome, dict(checkpoint) if checkpoint is not None else None)
        self.create_in_shop(plan.outcome.shop_creates)
        return True

    def platform_pairs(self, rows: list[models.Model]) -> list[Pair]:
        states = self.states(record_pks=[row.pk for row in rows])
        linked = [row.id_origin for row in rows if row.id_origin is not None]
        remotes = {remote.id: remote for remote in self.adapter.fetch(self.service, linked)} if linked else {}
        pairs = []
        for row in rows:
            state = states.get(row.pk)
            if state is not None and state.shop_id != row.id_origin:
                state = None
            pairs.append(Pair(row, remotes.get(row.id_origin) if row.id_origin is not None else None, state))
        return pairs

    def states(self, *, shop_ids: Iterable[int] = (), record_pks: Iterable[int] = ()) -> dict[int, SyncRecordState]:
        base = SyncRecordState.objects.filter(store=self.store, entity_type=self.name)
        if shop_ids:
            return {state.shop_id: state for state in base.filter(shop_id__in=list(shop_ids))}
        return {state.record_pk: state for state in base.filter(record_pk__in=list(record_pks))}

    def plan(self, pairs: list[Pair]) -> BatchPlan:
        """Merge a batch; dead letters and conflict rows are written here (first transaction)."""
        plan = BatchPlan(now=timezone.now())
        outcome, counts = plan.outcome, plan.outcome.counts
        record_pks = [p.obj.pk for p in pairs if p.obj is not None and p.remote is not None]
        pending, ignored = self.existing_conflicts(record_pks)
        for pair in pairs:
            obj, remote, state = pair.obj, pair.remote, pair.state
            if remote is None:
                if obj.id_origin is None:
                    outcome.shop_creates.append(obj.pk)  # created in the shop after the batch
                else:
                    counts.records_synced += 1
                    counts.skipped += 1  # gone from the shop: deletions are not synced
                continue
            counts.records_synced += 1
            if obj is None:
                if state is not None or not self.to_platform_allowed or not merge.in_scope(remote.values, None,
                                                                                          self.filters):
                    counts.skipped += 1  # deleted on the platform, or not for the platform
                    continue
                values = {name: remote.values[name] for name in self.create_fields}
                if not self.rejected(outcome, "create_platform", None, remote.id, values):
                    plan.creates.append((remote, values))
                continue
            if state and state.store_modified and remote.modified and state.store_modified > remote.modified:
                counts.skipped += 1  # read before a newer write (a resolution): it is read again later
                continue
            try:
                platform_values = self.adapter.platform_values(obj)
            except InvalidValue as exc:
                self.dead_letter(outcome, "update_store", obj.pk, remote.id, {}, str(exc), "INVALID_DATA_FORMAT")
                continue
            if not merge.in_scope(remote.values, platform_values, self.filters):
                counts.skipped += 1
                continue
            result = merge.merge_record(
                self.policy, state.base if state else {}, remote.values, platform_values,
                store_modified=remote.modified, platform_modified=obj.updated_at,
            )
            if self.rejected(outcome, "update_store", obj.pk, remote.id, result.to_store):
                continue
            if self.rejected(outcome, "update_platform", obj.pk, remote.id, result.to_platform):
                continue
            conflicts = merge.plan_conflicts(result, pending.get(obj.pk, {}), ignored.get(obj.pk, {}),
                                             self.policy.fields)
            plan.items.append(Item(pair, result, conflicts, platform_modified=obj.updated_at))
        self.journal_conflicts(plan)
        return plan

    def rejected(self, outcome: BatchOutcome, operation: str, record_pk, shop_id, values: dict) -> bool:
        if not self.validate or not values:
            return False
        problems = validate(self.name, values)
        if problems:
            message = "; ".join(f"{name}: {problem}" for name, problem in sorted(problems.items()))
            self.dead_letter(outcome, operation, record_pk, shop_id, values, message, "INVALID_DATA_FORMAT")
        return bool(problems)

    def write_shop(self, plan: BatchPlan) -> None:
        """Send the shop's updates; items whose write failed are dropped (dead letters)."""
        writes = [item for item in plan.items if item.result.to_store]
        if not writes:
            return
        ops = [WriteOp("update", item.pair.remote.id, item.result.to_store) for item in writes]
        results = self.writer.run(self.adapter, ops)
        failures = [r for r in results if not r.ok]
        transient = [r for r in failures if r.transient]
        if len(transient) >= 3 and len(transient) == len(failures) and 2 * len(transient) >= len(results):
            self.forget_conflicts(plan, writes)
            raise ShopUnavailable(transient[0].error, transient[0].code)
        failed = []
        for item, result in zip(writes, results, strict=True):
            plan.outcome.counts.shop_writes += 1
            if result.ok:
                item.pair.remote = result.remote  # fresh: its date_upd is the new one
            else:
                failed.append(item)
                plan.failures.append((item, result))
        if failed:
            self.forget_conflicts(plan, failed)
            dropped = {id(item) for item in failed}
            plan.items = [item for item in plan.items if id(item) not in dropped]

    def forget_conflicts(self, plan: BatchPlan, items: list[Item]) -> None:
        """Settled conflicts of records whose write failed: not applied, so not recorded."""
        pks = [pk for item in items for pk in item.settled_rows]
        if pks:
            SyncConflict.objects.filter(pk__in=pks).delete()

    def apply(self, plan: BatchPlan) -> None:
        """The platform's writes and the new bases (second transaction)."""
        outcome, now, adapter = plan.outcome, plan.now, self.adapter
        counts = outcome.counts
        for item, result in plan.failures:
            self.dead_letter(outcome, "update_store", item.pair.obj.pk, item.pair.remote.id, item.result.to_store,
                             result.error, result.code, attempts=result.attempts)
        to_update: list[models.Model] = []
        update_fields: set[str] = set()
        for item in plan.items:
            obj, remote, result = item.pair.obj, item.pair.remote, item.result
            if result.to_platform:
                update_fields.update(adapter.apply(obj, result.to_platform))
                obj.origin_date_upd = remote.modified
                to_update.append(obj)
        if to_update:
            # One INSERT .. ON CONFLICT (id) DO UPDATE: much faster than bulk_update's CASE
            # expressions; updated_at (auto_now) is stamped on each object as it is written.
            adapter.model.objects.bulk_create(
                to_update, update_conflicts=True, unique_fields=["id"],
                update_fields=sorted(update_fields | {"updated_at", "origin_date_upd"}),
            )
        states: list[SyncRecordState] = []
        done_pks, done_shop_ids = [], []
        for item in plan.items:
            obj, remote, state, result = item.pair.obj, item.pair.remote, item.pair.state, item.result
            base = {**(state.base if state else {}), **result.base}
            for name in self.policy.fields:
                if name not in result.base:
                    base.pop(name, None)  # pending without a base: still never agreed
            if state is None or (state.base, state.store_modified, state.platform_modified) != (
                base, remote.modified, obj.updated_at
            ):
                states.append(self.new_state(obj.pk, remote, base, obj.updated_at, now))
            if result.writes:
                counts.records_updated += 1
            counts.conflicts_resolved += len(result.resolved)
            counts.conflicts_pending += len(result.pending)
            counts.overwritten += len(result.overwritten)
            done_pks.append(obj.pk)
        if plan.creates:
            objs = [adapter.new_platform(self.store, remote, values) for remote, values in plan.creates]
            self.link_customers(objs, [remote for remote, _ in plan.creates])
            adapter.model.objects.bulk_create(objs)
            counts.records_created += len(objs)
            for obj, (remote, values) in zip(objs, plan.creates, strict=True):
                base = {name: values[name] for name in self.policy.fields}
                states.append(self.new_state(obj.pk, remote, base, obj.updated_at, now))
                done_shop_ids.append(remote.id)
        if states:
            relinked = [item.pair.obj.pk for item in plan.items if item.pair.state is None]
            if relinked or plan.creates:
                SyncRecordState.objects.filter(
                    store=self.store, entity_type=self.name, record_pk__in=[s.record_pk for s in states]
                ).exclude(shop_id__in=[s.shop_id for s in states]).delete()  # stale links of relinked records
            SyncRecordState.objects.bulk_create(
                states, update_conflicts=True, unique_fields=["store", "entity_type", "shop_id"],
                update_fields=["record_pk", "base", "store_modified", "platform_modified", "synced_at"],
            )
        if self.has_dead_letters and (done_pks or done_shop_ids):
            DeadLetter.objects.filter(
                store=self.store, entity_type=self.name,
                status__in=[DeadLetterStatus.PENDING, DeadLetterStatus.REQUEUED],
            ).filter(Q(record_pk__in=done_pks) | Q(shop_id__in=done_shop_ids)).update(
                status=DeadLetterStatus.RESOLVED, updated_at=now
            )

    def new_state(self, record_pk: int, remote: Remote, base: dict, platform_modified, now) -> SyncRecordState:
        return SyncRecordState(
            store=self.store, entity_type=self.name, record_pk=record_pk, shop_id=remote.id, base=base,
            store_modified=remote.modified, platform_modified=platform_modified, synced_at=now,
        )

    def link_customers(self, objs: list[models.Model], remotes: list[Remote]) -> None:
        """New orders point to their customer when the platform has it."""
        if self.name != "orders":
            return
        ids = {r.record.customer_id for r in remotes if r.record.customer_id}
        customers = dict(
            Customer.objects.filter(store=self.store, id_origin__in=ids).values_list("id_origin", "pk")
        ) if ids else {}
        for obj, remote in zip(objs, remotes, strict=True):
            obj.customer_id = customers.get(remote.record.customer_id)

    # Conflicts

    def existing_conflicts(self, record_pks: list[int]):
        pending: dict[int, dict[str, tuple]] = defaultdict(dict)
        ignored: dict[int, dict[str, set]] = defaultdict(lambda: defaultdict(set))
        self._pending_rows: dict[tuple[int, str], SyncConflict] = {}
        if not record_pks:
            return pending, ignored
        rows = SyncConflict.objects.filter(
            store=self.store, entity_type=self.name, record_pk__in=record_pks,
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
                new.append(SyncConflict(
                    store=self.store, job=self.job, entity_type=self.name, record_pk=obj.pk, shop_id=remote.id,
                    field=c.field, store_value=c.store_value, platform_value=c.platform_value,
                    base_value=c.base_value, last_modified_store=remote.modified,
                    last_modified_platform=item.platform_modified, status=merge.conflict_status(c),
                    resolution=c.decided_by, resolved_value=None if c.pending else c.value,
                    resolved_at=None if c.pending else now,
                ))
                owners.append(item)
            for c in item.plan.update:
                row = self._pending_rows[(obj.pk, c.field)]
                row.store_value, row.platform_value = c.store_value, c.platform_value
                row.last_modified_store, row.last_modified_platform, row.job, row.updated_at = (
                    remote.modified, item.platform_modified, self.job, now)
                if not c.pending:
                    row.status, row.resolution, row.resolved_value, row.resolved_at = (
                        ConflictStatus.RESOLVED, c.decided_by, c.value, now)
                changed.append(row)
            for name, reason in item.plan.close:
                row = self._pending_rows[(obj.pk, name)]
                row.status, row.resolution, row.resolved_at, row.job, row.updated_at = (
                    ConflictStatus.RESOLVED, reason, now, self.job, now)
                row.resolved_value = item.result.base.get(name)
                changed.append(row)
        if new:
            SyncConflict.objects.bulk_create(new)
            for row, item in zip(new, owners, strict=True):
                if row.status == ConflictStatus.RESOLVED:
                    item.settled_rows.append(row.pk)
        if changed:
            SyncConflict.objects.bulk_update(changed, [
                "store_value", "platform_value", "last_modified_store", "last_modified_platform", "status",
                "resolution", "resolved_value", "resolved_at", "job", "updated_at",
            ])

    # Records only on the platform

    def create_in_shop(self, pks: list[int]) -> None:
        """Create platform-only records in the shop; each new shop id is saved at once."""
        if not pks or not self.to_store_allowed:
            return
        outcome, now = BatchOutcome(), timezone.now()
        objs = list(self.model.objects.filter(pk__in=pks, id_origin__isnull=True))
        ops, targets = [], []
        for obj in objs:
            outcome.counts.records_synced += 1
            try:
                values = self.adapter.platform_values(obj)
            except InvalidValue as exc:
                self.dead_letter(outcome, "create_store", obj.pk, None, {}, str(exc), "INVALID_DATA_FORMAT")
                continue
            if not merge.in_scope(None, values, self.filters):
                outcome.counts.skipped += 1
                continue
            values = {name: values[name] for name in self.create_fields}
            if self.rejected(outcome, "create_store", obj.pk, None, values):
                continue
            ops.append(WriteOp("create", None, values))
            targets.append(obj)
        for obj, result in zip(targets, self.writer.run(self.adapter, ops), strict=True):
            outcome.counts.shop_writes += 1
            if not result.ok:
                self.dead_letter(outcome, "create_store", obj.pk, None, result.op.values, result.error, result.code,
                                 attempts=result.attempts)
                continue
            remote = result.remote
            with transaction.atomic():
                self.model.objects.filter(pk=obj.pk).update(
                    id_origin=remote.id, origin_date_upd=remote.modified, updated_at=now
                )
                base = {name: result.op.values[name] for name in self.policy.fields}
                SyncRecordState.objects.filter(store=self.store, entity_type=self.name, record_pk=obj.pk).delete()
                SyncRecordState.objects.update_or_create(
                    store=self.store, entity_type=self.name, shop_id=remote.id,
                    defaults={"record_pk": obj.pk, "base": base, "store_modified": remote.modified,
                              "platform_modified": now, "synced_at": now},
                )
            outcome.counts.records_created += 1
        with transaction.atomic():
            self.save_progress(outcome, None)

    # Bookkeeping

    def dead_letter(self, outcome: BatchOutcome, operation: str, record_pk, shop_id, payload: dict, error: str,
                    code: str, *, attempts: int = 1) -> None:
        outcome.counts.errors += 1
        values = {"job": self.job, "payload": _jsonable(payload), "error": error[:2000], "code": code,
                  "attempts": attempts}
        same = DeadLetter.objects.filter(
            store=self.store, entity_type=self.name, operation=operation, record_pk=record_pk, shop_id=shop_id,
            status=DeadLetterStatus.PENDING,
        )
        if not same.update(**values, updated_at=timezone.now()):  # one open letter per record and operation
            DeadLetter.objects.create(store=self.store, entity_type=self.name, operation=operation,
                                      record_pk=record_pk, shop_id=shop_id, **values)
        self.has_dead_letters = True
        outcome.errors.append({
            "entity": self.name, "operation": operation, "record_pk": record_pk, "shop_id": shop_id,
            "code": code, "message": error[:500],
        })

    def check_cancelled(self) -> None:
        if StoreSyncJob.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise SyncCancelled()

    def add_total(self, amount: int, *, store_pass: bool = False) -> None:
        self._extra_total = getattr(self, "_extra_total", 0) + amount

    def save_checkpoint(self, checkpoint: dict) -> None:
        with transaction.atomic():
            job = StoreSyncJob.objects.select_for_update().get(pk=self.job.pk)
            job.checkpoint = {**job.checkpoint, self.name: checkpoint}
            job.save(update_fields=["checkpoint"])
            self.job.checkpoint = job.checkpoint

    def save_progress(self, outcome: BatchOutcome, checkpoint: dict | None) -> None:
        """Add a batch's counts to the job, with its checkpoint (inside the batch's transaction)."""
        counts = outcome.counts
        job = StoreSyncJob.objects.select_for_update().get(pk=self.job.pk)
        result = job.entity_results.setdefault(self.name, new_entity_result())
        for key, value in counts.as_dict().items():
            result[key] = result.get(key, 0) + value
        result["records_total"] = max(result.get("records_total", 0) + getattr(self, "_extra_total", 0),
                                      result["records_synced"])
        self._extra_total = 0
        result["status"] = "in_progress"
        if checkpoint is not None:
            job.checkpoint = {**job.checkpoint, self.name: checkpoint}
        job.items_total = sum(r.get("records_total", 0) for r in job.entity_results.values())
        job.items_processed += counts.records_synced
        job.items_failed += counts.errors
        job.items_succeeded += max(0, counts.records_synced - counts.errors)
        room = MAX_RECORDED_ERRORS - len(job.errors)
        if room > 0:
            job.errors.extend(outcome.errors[:room])
        job.error_count += len(outcome.errors)
        for key in ("records_updated", "records_created", "conflicts_resolved", "conflicts_pending", "shop_writes"):
            job.counters[key] = job.counters.get(key, 0) + getattr(counts, key)
        job.heartbeat_at = timezone.now()
        job.save(update_fields=[
            "entity_results", "checkpoint", "items_total", "items_processed", "items_failed", "items_succeeded",
            "errors", "error_count", "counters", "heartbeat_at",
        ])
        _copy(job, self.job)
        transaction.on_commit(lambda: job_changed.send(sender=StoreSyncJob, job=self.job))

    def finish(self, *, store_watermark: datetime | None, platform_started: datetime | None) -> None:
        result = self.job.entity_results.get(self.name) or {}
        if result.get("records_created", 0) + result.get("records_updated", 0) >= ANALYZE_AFTER:
            refresh_statistics(self.model, SyncRecordState)
        now = timezone.now()
        with transaction.atomic():
            entity = SyncEntity.objects.select_for_update().get(pk=self.entity.pk)
            if store_watermark is not None:
                entity.store_watermark = store_watermark
            if platform_started is not None:
                entity.platform_watermark = platform_started
            if self.job.sync_type != SyncType.RECORDS:
                entity.last_sync_at = now
                if self.job.sync_type == SyncType.FULL:
                    entity.last_full_sync_at = now
            job = StoreSyncJob.objects.select_for_update().get(pk=self.job.pk)
            result = job.entity_results.setdefault(self.name, new_entity_result())
            result["status"] = "completed"
            result["finished_at"] = iso(now)
            started = from_iso(result.get("started_at"))
            result["duration"] = round((now - started).total_seconds(), 3) if started else None
            entity.last_status = "partial" if result.get("errors") else "synced"
            entity.save(update_fields=["store_watermark", "platform_watermark", "last_sync_at", "last_full_sync_at",
                                       "last_status"])
            job.checkpoint = {k: v for k, v in job.checkpoint.items() if k != self.name}
            job.save(update_fields=["entity_results", "checkpoint"])
            _copy(job, self.job)
            transaction.on_commit(lambda: job_changed.send(sender=StoreSyncJob, job=self.job))


# After a sync that wrote this many records (a first full sync), the tables' planner
# statistics are refreshed at once rather than at autovacuum's next round.
ANALYZE_AFTER = 5000


def refresh_statistics(*tables: type[models.Model]) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f'ANALYZE "{model._meta.db_table}"')


def new_entity_result() -> dict[str, Any]:
    return {"status": "pending", **Counts().as_dict(), "records_total": 0, "started_at": None,
            "finished_at": None, "duration": None}


def _after(keyset: list[str], cursor: list) -> Q:
    if keyset == ["pk"]:
        return Q(pk__gt=cursor[0])
    moment = from_iso(cursor[0])
    return Q(updated_at__gt=moment) | Q(updated_at=moment, pk__gt=cursor[1])


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _jsonable(values: dict) -> dict:
    return {k: (v if isinstance(v, (str, int, float, bool, dict, list, type(None))) else str(v))
            for k, v in values.items()}


def _copy(source: models.Model, target: models.Model) -> None:
    for f in source._meta.concrete_fields:
        setattr(target, f.attname, getattr(source, f.attname))
