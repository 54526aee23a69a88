"""The sync engine: read what changed on both sides, merge each record (``storesync.engine.merge``),
write the outcome to both sides, remember the new base.

For each entity of a job, three passes:

1. **Store pass.** The shop's records modified since the entity's store watermark (all of
   them for a full sync), read by keyset on ``date_upd`` (see :class:`ShopScanner`), are
   merged with their platform counterparts in batches. At its end come the deletes
   (``storesync.engine.deletes``): on a full sync (or a job with the ``sweep_deletes``
   option) a sweep of the shop's ids finds the records deleted in the shop, and the
   platform's tombstones say which were deleted on the platform; the entity's
   ``delete_policy`` says what happens to their counterparts.
2. **Platform pass.** The platform's records modified since the platform watermark (all
   of them for a full sync), minus those the store pass just settled (their ``updated_at``
   is the one the sync state remembers), are merged with their shop counterparts,
   fetched by id in batches of 100; records that exist only on the platform are created
   in the shop when the direction allows.
3. **Owed pass.** The records of the entity's owed letters (pending or requeued dead
   letters: an earlier write or create that failed), whatever the watermarks, unless this
   run merged them already; what stays owed makes the job partial (``Ledger.report_owed``).

A batch runs under the store's lock (``storesync.engine.locks``), so a conflict resolution
cannot interleave with it, in three steps: merge it and commit the decisions (conflict
rows, dead letters); write the shop through the connector, a few records at a time
(``ShopWriter``); commit the platform's writes (bulk operations), the new bases and the
job's progress with its checkpoint. A redelivered job resumes after its last committed
batch. Replaying a batch whose shop writes happened finds both sides equal and writes
nothing again, and its conflicts were recorded before those writes.

The reading of the shop is in ``storesync.engine.scanning``, the bookkeeping (conflict rows, dead
letters, progress, watermarks) in ``storesync.engine.ledger``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from catalog.models import Customer
from catalog.platforms import PlatformError
from config.error_codes import ErrorCode
from storesync.constants import SYNCABLE_FIELDS, ChangeAction, ChangeSide, Direction, JobMode, SyncType
from storesync.engine import history, merge
from storesync.engine.batch import BatchOutcome, BatchPlan, Item, Pair, ShopUnavailable
from storesync.engine.bulk import AnyOf, DistinctFrom, create_records
from storesync.engine.deletes import DeletePass
from storesync.engine.entities import ADAPTERS, EntityAdapter, InvalidValue, Remote, validate
from storesync.engine.history import create_change, item_changes, write_changes
from storesync.engine.ledger import Ledger
from storesync.engine.locks import store_lock
from storesync.engine.scanning import IdScanner, ShopScanner, chunks, from_iso, iso
from storesync.engine.shop_writer import ShopWriter, WriteOp, WriteOutcome
from storesync.models import (
    DeadLetter,
    StoreSyncJob,
    SyncChange,
    SyncEntity,
    SyncRecordState,
)

logger = logging.getLogger(__name__)


class EntitySync:
    """One entity of one job."""

    def __init__(self, job: StoreSyncJob, entity: SyncEntity, service, writer: ShopWriter, ledger: Ledger):
        self.job, self.entity, self.service, self.writer = job, entity, service, writer
        self.store = job.store
        self.adapter: EntityAdapter = ADAPTERS[entity.entity_type]
        self.model = self.adapter.model
        # What the job writes besides the records (conflicts, dead letters, progress, watermarks).
        self.ledger = ledger
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
        # A new record carries every mapped field (its identity included): ``fields`` limits
        # what updates sync, not what a record is made of.
        excluded = set(entity.exclude_fields or ())
        self.create_fields = tuple(f for f in SYNCABLE_FIELDS[entity.entity_type] if f not in excluded)
        self.validate = job.options.get("validate_data", True)
        self.to_platform_allowed = entity.direction in (Direction.BIDIRECTIONAL, Direction.TO_PLATFORM)
        self.to_store_allowed = (
            entity.direction in (Direction.BIDIRECTIONAL, Direction.TO_STORE) and self.adapter.writable_in_store
        )
        self.batch_size = settings.STORESYNC_BATCH_SIZE
        self.page_size = settings.STORESYNC_PAGE_SIZE
        # Records merged by this run (platform pks, and shop ids of shop-only records): the
        # platform pass skips those of the store pass, the owed pass all of them.
        self.handled: set[int] = set()
        self.handled_shop_ids: set[int] = set()
        # A dry run (a preview, or the brake's plan) reads and merges but writes nothing: its
        # plan becomes the job's ``SyncChange`` rows (``record_plan``).
        self.dry = ledger.dry
        # An apply: each record's planned rows (``planned_key``), from the preview it applies.
        self.expected: dict[tuple, set] | None = None
        if job.source_job_id and job.mode == JobMode.APPLY:
            self.expected = planned_sets(
                SyncChange.objects.filter(job_id=job.source_job_id, entity_type=self.name).order_by("id")
            )

    @property
    def name(self) -> str:
        return self.entity.entity_type

    # The passes

    def run(self) -> None:
        if self.job.sync_type == SyncType.RECORDS:
            self.run_records()
            self.ledger.report_owed()
            self.ledger.finish(store_watermark=None, platform_started=None)
            return
        full = self.job.sync_type == SyncType.FULL
        checkpoint = dict(self.job.checkpoint.get(self.name) or {})
        if checkpoint.get("phase", "store") == "store":
            # A full sync reads windows of ids in parallel (unless it resumes a keyset scan).
            by_id = full and ("cursor" not in checkpoint or checkpoint.get("scan") == "ids")
            scanner: ShopScanner | IdScanner
            if by_id:
                scanner = IdScanner(
                    self.adapter,
                    self.writer.connectors,
                    page_size=self.page_size,
                    ahead=-(-self.batch_size // self.page_size),  # the next batch is read while one is merged
                    cursor=from_iso(checkpoint.get("cursor")),
                    after_id=_after_id(checkpoint),
                )
            else:
                scanner = ShopScanner(
                    self.adapter,
                    self.service,
                    since=None if full else self.entity.store_watermark,
                    page_size=self.page_size,
                    cursor=from_iso(checkpoint.get("cursor")),
                    after_id=_after_id(checkpoint),
                )
            for batch in chunks(scanner, self.batch_size):
                self.ledger.check_cancelled()
                checkpoint = {"phase": "store", "cursor": iso(scanner.cursor), "after_id": scanner.after_id}
                if by_id:
                    checkpoint["scan"] = "ids"
                self.store_batch(batch, checkpoint)
            # Records deleted on either side (the shop's seen by a sweep of its ids), per the policy.
            sweep = full or bool(self.job.options.get("sweep_deletes"))
            DeletePass(self.job, self.entity, self.adapter, self.writer, self.ledger, batch_size=self.batch_size).run(
                self.service, sweep=sweep
            )
            reached = scanner.cursor
            if self.entity.store_watermark and (reached is None or reached < self.entity.store_watermark):
                reached = self.entity.store_watermark
            checkpoint = {"phase": "platform", "store_watermark": iso(reached), "platform_started": iso(timezone.now())}
            self.ledger.save_checkpoint(checkpoint)
        self.platform_pass(checkpoint, full=full)
        self.owed_pass()
        self.ledger.report_owed()
        self.ledger.finish(
            store_watermark=from_iso(checkpoint.get("store_watermark")),
            platform_started=from_iso(checkpoint.get("platform_started")),
        )

    def platform_pass(self, checkpoint: dict, *, full: bool) -> None:
        """Platform records changed since the watermark and not settled by the sync state.

        Candidates are scanned by keyset (``pk``, or ``updated_at, pk``); the settled ones
        (their ``updated_at`` is the one the sync state remembers) are left out by the scan's
        query, with a scalar subquery: one indexed look-up of the state per row, whatever the
        planner's statistics say (an ``EXISTS`` may become a hash of all the store's states).
        """
        rows = self.model.objects.filter(store=self.store)
        since = self.entity.platform_watermark
        if not full and since is not None:
            rows = rows.filter(updated_at__gte=since - timedelta(seconds=settings.STORESYNC_CLOCK_SKEW))
        if not self.to_store_allowed:
            rows = rows.exclude(id_origin__isnull=True)  # nothing to do with records only on the platform
        keyset = ["pk"] if full else ["updated_at", "pk"]
        remembered = SyncRecordState.objects.filter(
            store=self.store, entity_type=self.name, record_pk=OuterRef("pk")
        ).values("platform_modified")[:1]
        scan = rows.filter(DistinctFrom(F("updated_at"), Subquery(remembered)))
        scan = scan.order_by(*keyset).values_list("pk", "updated_at")
        exhausted = False
        while not exhausted:
            self.ledger.check_cancelled()
            todo: list[int] = []
            while len(todo) < self.batch_size:
                cursor = checkpoint.get("platform_cursor")
                page = list((scan.filter(_after(keyset, cursor)) if cursor is not None else scan)[: self.batch_size])
                if page:
                    last_pk, last_modified = page[-1]
                    checkpoint["platform_cursor"] = [last_pk] if full else [iso(last_modified), last_pk]
                    todo += [pk for pk, _ in page if pk not in self.handled]
                if len(page) < self.batch_size:
                    exhausted = True
                    break
            if not todo:
                self.ledger.save_checkpoint(dict(checkpoint))
                continue

            def load(todo=todo) -> list[Pair]:
                rows = list(self.model.objects.filter(pk__in=todo).order_by("pk"))
                self.ledger.add_total(len(rows))
                return self.platform_pairs(rows)

            self.process(load, checkpoint)

    def owed_pass(self) -> None:
        """The records of the entity's owed letters (an earlier job's failed writes and creates),
        whatever the watermarks, unless this run merged them already."""
        after = 0
        while letters := self.ledger.owed(after=after, limit=self.batch_size):
            self.ledger.check_cancelled()
            after = letters[-1].pk
            pks = [x.record_pk for x in letters if x.record_pk is not None and x.record_pk not in self.handled]
            shop_ids = [
                x.shop_id
                for x in letters
                if x.record_pk is None and x.shop_id is not None and x.shop_id not in self.handled_shop_ids
            ]
            if pks or shop_ids:
                self.sync_records(pks, shop_ids)

    def run_records(self) -> None:
        """Only the records a job names (a dead letter requeued)."""
        wanted = (self.job.params.get("records") or {}).get(self.name) or {}
        self.sync_records(
            [int(pk) for pk in wanted.get("record_pks", [])], [int(i) for i in wanted.get("shop_ids", [])]
        )

    def sync_records(self, pks: list[int], shop_ids: list[int]) -> None:
        """Named records, by platform pk or (records only in the shop) by shop id, in one batch."""
        self.ledger.add_total(len(pks) + len(shop_ids))

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
        self.ledger.add_total(len(remotes))

        def load() -> list[Pair]:
            ids = [remote.id for remote in remotes]
            objs = {
                obj.id_origin: obj for obj in self.model.objects.filter(AnyOf(F("id_origin"), ids), store=self.store)
            }
            states = self.states(shop_ids=ids)
            twins = self.link_twins([r for r in remotes if r.id not in objs and r.id not in states])
            pairs = []
            for remote in remotes:
                obj, state = objs.get(remote.id) or twins.get(remote.id), states.get(remote.id)
                if state is not None and obj is not None and state.record_pk != obj.pk:
                    state = None  # the platform record was relinked: no common base
                pairs.append(Pair(obj, remote, state))
            return pairs

        self.process(load, checkpoint)

    def link_twins(self, remotes: list[Remote]) -> dict[int, models.Model]:
        """Shop id -> the platform record, not linked to the shop yet, that carries the same
        identity (sku and reference, or e-mail) as that new shop record: created on both
        sides between two syncs, they are linked here and merged (without a base) instead of
        each being created on the other side. The link is saved at once, in the batch's first
        transaction, so it holds even when the merge's writes fail (a dead letter then owes the
        record, never a second create)."""
        field = self.adapter.identity
        if field is None or not remotes:
            return {}
        shop_ids: dict[str, int] = {}
        for remote in remotes:
            key = str(remote.values.get(self.adapter.attributes[field]) or "").strip()
            if key:
                shop_ids.setdefault(key, remote.id)
        if not shop_ids:
            return {}
        twins: dict[int, models.Model] = {}
        rows = self.model.objects.filter(AnyOf(F(field), list(shop_ids)), store=self.store, id_origin__isnull=True)
        for row in rows.order_by("pk"):
            shop_id = shop_ids.get(getattr(row, field))
            if shop_id is not None and shop_id not in twins:
                twins[shop_id] = row
        for shop_id, row in twins.items():
            row.id_origin = shop_id
            if self.dry:
                continue
            # update(): the platform record's updated_at stays, nothing changed on the platform
            self.model.objects.filter(pk=row.pk).update(id_origin=shop_id)
        return twins

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
                if self.dry:
                    self.record_plan(plan)
                    self.ledger.save_progress(plan.outcome, None)
                    return True
            # The history's rows, before the shop's write replaces the remotes read (their old values).
            changes = {id(item): item_changes(self.job, self.name, item) for item in plan.items if item.result.writes}
            self.write_shop(plan)
            with transaction.atomic():
                self.apply(plan)
                # With the batch's writes and checkpoint: a redelivered batch either finds them
                # committed (and resumes after it) or replays the batch and records it then.
                rows = [row for item in plan.items for row in changes.get(id(item), ())]
                rows += plan.created_changes
                if rows:
                    write_changes(rows)
                self.ledger.save_progress(plan.outcome, dict(checkpoint) if checkpoint is not None else None)
            self.ledger.keep_statistics(plan.outcome.counts.records_created)
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
            return {state.shop_id: state for state in base.filter(AnyOf(F("shop_id"), list(shop_ids)))}
        return {state.record_pk: state for state in base.filter(AnyOf(F("record_pk"), list(record_pks)))}

    def plan(self, pairs: list[Pair]) -> BatchPlan:
        """Merge a batch; dead letters and conflict rows are written here (first transaction)."""
        plan = BatchPlan(now=timezone.now())
        outcome, counts = plan.outcome, plan.outcome.counts
        record_pks = [p.obj.pk for p in pairs if p.obj is not None and p.remote is not None]
        pending, ignored = self.ledger.existing_conflicts(record_pks)
        for pair in pairs:
            obj, remote, state = pair.obj, pair.remote, pair.state
            if obj is not None:
                self.handled.add(obj.pk)
            elif remote is not None:
                self.handled_shop_ids.add(remote.id)
            if remote is None:
                if obj.id_origin is None:
                    outcome.shop_creates.append(obj.pk)  # created in the shop after the batch
                else:
                    counts.records_synced += 1
                    counts.skipped += 1  # gone from the shop: deletions are not synced
                continue
            counts.records_synced += 1
            if obj is None:
                if (
                    state is not None
                    or not self.to_platform_allowed
                    or not merge.in_scope(remote.values, None, self.filters)
                ):
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
                self.ledger.dead_letter(
                    outcome, "update_store", obj.pk, remote.id, {}, str(exc), ErrorCode.INVALID_DATA_FORMAT
                )
                continue
            if not merge.in_scope(remote.values, platform_values, self.filters):
                counts.skipped += 1
                continue
            result = merge.merge_record(
                self.policy,
                state.base if state else {},
                remote.values,
                platform_values,
                store_modified=remote.modified,
                platform_modified=obj.updated_at,
            )
            if self.rejected(outcome, "update_store", obj.pk, remote.id, result.to_store):
                continue
            if self.rejected(outcome, "update_platform", obj.pk, remote.id, result.to_platform):
                continue
            conflicts = merge.plan_conflicts(
                result, pending.get(obj.pk, {}), ignored.get(obj.pk, {}), self.policy.fields
            )
            plan.items.append(
                Item(pair, result, conflicts, platform_modified=obj.updated_at, platform_values=platform_values)
            )
        if self.expected is not None:
            self.keep_unchanged(plan)
        if not self.dry:
            self.ledger.journal_conflicts(plan)
        return plan

    # Preview and apply

    def planned_rows(self, plan: BatchPlan, outcome: BatchOutcome | None) -> list[SyncChange]:
        """The batch's plan as change rows: each field it writes (or creates) on each side, and
        each conflict with what settles it."""
        job, name = self.job, self.name
        rows: list[SyncChange] = []
        for item in plan.items:
            rows += history.item_changes(job, name, item)
            rows += [conflict_row(job, name, item, c) for c in item.result.conflicts]
        for remote, values in plan.creates:
            rows.append(history.create_change(job, name, ChangeSide.PLATFORM, values, shop_id=remote.id))
        ops, targets = self.shop_create_ops(plan.outcome.shop_creates, outcome)
        for op, obj in zip(ops, targets, strict=True):
            rows.append(history.create_change(job, name, ChangeSide.STORE, op.values, record_pk=obj.pk))
        return rows

    def record_plan(self, plan: BatchPlan) -> None:
        """A dry run: the batch's plan saved as the job's change rows, nothing else written."""
        SyncChange.objects.bulk_create(self.planned_rows(plan, plan.outcome))
        plan.outcome.shop_creates = []  # recorded, not created

    def keep_unchanged(self, plan: BatchPlan) -> None:
        """An apply writes a record only where its merge plans what the preview planned (same
        fields, sides and values); the others are reported as changed since the preview."""
        expected = self.expected or {}
        now = planned_sets(self.planned_rows(plan, None))

        def holds(key: tuple) -> bool:
            if now.get(key, set()) == expected.get(key, set()):
                return True
            fields = sorted({row[1] for row in now.get(key, set()) ^ expected.get(key, set())})
            plan.outcome.counts.skipped += 1
            plan.outcome.errors.append(
                {
                    "entity": self.name,
                    "operation": "apply",
                    "record_pk": key[0],
                    "shop_id": key[1],
                    "code": CHANGED_SINCE_PREVIEW,
                    "message": f"Changed since the preview: {', '.join(fields)}.",
                    "fields": fields,
                }
            )
            return False

        plan.items = [
            item for item in plan.items if holds((item.pair.obj.pk, item.pair.remote.id if item.pair.remote else None))
        ]
        plan.creates = [(remote, values) for remote, values in plan.creates if holds((None, remote.id))]
        plan.outcome.shop_creates = [pk for pk in plan.outcome.shop_creates if holds((pk, None))]

    def rejected(self, outcome: BatchOutcome, operation: str, record_pk, shop_id, values: dict) -> bool:
        if not self.validate or not values:
            return False
        problems = validate(self.name, values)
        if problems:
            message = "; ".join(f"{name}: {problem}" for name, problem in sorted(problems.items()))
            self.ledger.dead_letter(
                outcome, operation, record_pk, shop_id, values, message, ErrorCode.INVALID_DATA_FORMAT
            )
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
            self.ledger.forget_conflicts(plan, writes)
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
            self.ledger.forget_conflicts(plan, failed)
            dropped = {id(item) for item in failed}
            plan.items = [item for item in plan.items if id(item) not in dropped]

    def apply(self, plan: BatchPlan) -> None:
        """The platform's writes and the new bases (second transaction)."""
        outcome, now, adapter = plan.outcome, plan.now, self.adapter
        counts = outcome.counts
        for item, result in plan.failures:
            self.ledger.dead_letter(
                outcome,
                "update_store",
                item.pair.obj.pk,
                item.pair.remote.id,
                item.result.to_store,
                result.error,
                result.code,
                attempts=result.attempts,
            )
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
                to_update,
                update_conflicts=True,
                unique_fields=["id"],
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
                base,
                remote.modified,
                obj.updated_at,
            ):
                states.append(self.new_state(obj.pk, remote, base, obj.updated_at, now))
            if result.writes:
                counts.records_updated += 1
            counts.conflicts_resolved += len(result.resolved)
            counts.conflicts_pending += len(result.pending)
            counts.overwritten += len(result.overwritten)
            done_pks.append(obj.pk)
        if states:
            # Stale links of records linked anew (a record just created has none).
            relinked = {item.pair.obj.pk: item.pair.remote.id for item in plan.items if item.pair.state is None}
            if relinked:
                SyncRecordState.objects.filter(
                    store=self.store, entity_type=self.name, record_pk__in=list(relinked)
                ).exclude(shop_id__in=list(relinked.values())).delete()
            SyncRecordState.objects.bulk_create(
                states,
                update_conflicts=True,
                unique_fields=["store", "entity_type", "shop_id"],
                update_fields=["record_pk", "base", "store_modified", "platform_modified", "synced_at"],
            )
        if plan.creates:
            objs = [adapter.new_platform(self.store, remote, values) for remote, values in plan.creates]
            self.link_customers(objs, [remote for remote, _ in plan.creates])
            create_records(adapter.model, objs)
            counts.records_created += len(objs)
            created: list[SyncRecordState] = []
            for obj, (remote, values) in zip(objs, plan.creates, strict=True):
                plan.created_changes.append(
                    create_change(self.job, self.name, ChangeSide.PLATFORM, values, record_pk=obj.pk, shop_id=remote.id)
                )
                base = {name: values[name] for name in self.policy.fields}
                created.append(self.new_state(obj.pk, remote, base, obj.updated_at, now))
                done_shop_ids.append(remote.id)
            # Inserted, not upserted: the batch's load found no state of these shop ids, and the
            # store's lock has been held since.
            create_records(SyncRecordState, created)
        self.ledger.settle(record_pks=done_pks, shop_ids=done_shop_ids, now=now)

    def new_state(self, record_pk: int, remote: Remote, base: dict, platform_modified, now) -> SyncRecordState:
        return SyncRecordState(
            store_id=self.store.pk,
            entity_type=self.name,
            record_pk=record_pk,
            shop_id=remote.id,
            base=base,
            store_modified=remote.modified,
            platform_modified=platform_modified,
            synced_at=now,
        )

    def link_customers(self, objs: list[models.Model], remotes: list[Remote]) -> None:
        """New orders point to their customer when the platform has it."""
        if self.name != "orders":
            return
        ids = {r.record.customer_id for r in remotes if r.record.customer_id}
        customers = (
            dict(Customer.objects.filter(store=self.store, id_origin__in=ids).values_list("id_origin", "pk"))
            if ids
            else {}
        )
        for obj, remote in zip(objs, remotes, strict=True):
            obj.customer_id = customers.get(remote.record.customer_id)

    # Conflicts

    # Records only on the platform

    def shop_create_ops(self, pks: list[int], outcome: BatchOutcome | None) -> tuple[list[WriteOp], list[models.Model]]:
        """The shop's creates of platform-only records (in scope, valid), and their records.
        ``outcome`` None: only look (an apply's comparison), count and report nothing."""
        if not pks or not self.to_store_allowed:
            return [], []
        scratch = outcome or BatchOutcome()
        objs = list(self.model.objects.filter(pk__in=pks, id_origin__isnull=True))
        ops, targets = [], []
        for obj in objs:
            scratch.counts.records_synced += 1
            try:
                values = self.adapter.platform_values(obj)
            except InvalidValue as exc:
                if outcome is not None:
                    self.ledger.dead_letter(
                        outcome, "create_store", obj.pk, None, {}, str(exc), ErrorCode.INVALID_DATA_FORMAT
                    )
                continue
            if not merge.in_scope(None, values, self.filters):
                scratch.counts.skipped += 1
                continue
            values = {name: values[name] for name in self.create_fields}
            if (
                (self.validate and validate(self.name, values))
                if outcome is None
                else self.rejected(outcome, "create_store", obj.pk, None, values)
            ):
                continue
            ops.append(WriteOp("create", None, values))
            targets.append(obj)
        return ops, targets

    def create_in_shop(self, pks: list[int]) -> None:
        """Create platform-only records in the shop; each new shop id is saved at once."""
        if not pks or not self.to_store_allowed:
            return
        outcome, now = BatchOutcome(), timezone.now()
        ops, targets = self.shop_create_ops(pks, outcome)
        intents, retried = {}, set()
        if targets:
            intents, retried = self.ledger.begin_creates(
                {obj.pk: op.values for obj, op in zip(targets, ops, strict=True)}
            )
        results: dict[int, WriteOutcome] = {}
        for obj, op in zip(targets, ops, strict=True):
            if obj.pk in retried and (found := self.find_created(op)) is not None:
                results[obj.pk] = found  # an earlier attempt made it, or it cannot be told
        writes = [(obj, op) for obj, op in zip(targets, ops, strict=True) if obj.pk not in results]
        for (obj, _), result in zip(writes, self.writer.run(self.adapter, [op for _, op in writes]), strict=True):
            outcome.counts.shop_writes += 1
            results[obj.pk] = result
        for obj in targets:
            result = results[obj.pk]
            if result.remote is None:
                self.ledger.dead_letter(
                    outcome,
                    "create_store",
                    obj.pk,
                    None,
                    result.op.values,
                    result.error,
                    result.code,
                    attempts=result.attempts,
                )
                continue
            remote = result.remote
            with transaction.atomic():
                self.model.objects.filter(pk=obj.pk).update(
                    id_origin=remote.id, origin_date_upd=remote.modified, updated_at=now
                )
                # A value the shop did not take is agreed as the shop holds it (and owed when
                # its write failed).
                agreed = {
                    **result.op.values,
                    **{n: remote.values.get(n, result.op.values.get(n)) for n in result.unwritten},
                }
                base = {name: agreed[name] for name in self.policy.fields}
                SyncRecordState.objects.filter(store=self.store, entity_type=self.name, record_pk=obj.pk).delete()
                DeadLetter.objects.filter(pk=intents.get(obj.pk)).delete()
                SyncRecordState.objects.update_or_create(
                    store=self.store,
                    entity_type=self.name,
                    shop_id=remote.id,
                    defaults={
                        "record_pk": obj.pk,
                        "base": base,
                        "store_modified": remote.modified,
                        "platform_modified": now,
                        "synced_at": now,
                    },
                )
                self.ledger.settle(record_pks=[obj.pk], now=now)
                written = {k: v for k, v in result.op.values.items() if k not in result.unwritten}
                write_changes(
                    [create_change(self.job, self.name, ChangeSide.STORE, written, record_pk=obj.pk, shop_id=remote.id)]
                )
                if result.error:  # made, but a follow-up write failed
                    self.ledger.dead_letter(
                        outcome,
                        "update_store",
                        obj.pk,
                        remote.id,
                        result.unwritten,
                        result.error,
                        result.code,
                        attempts=result.attempts,
                    )
            outcome.counts.records_created += 1
        with transaction.atomic():
            self.ledger.save_progress(outcome, None)

    def find_created(self, op: WriteOp) -> WriteOutcome | None:
        """A create owed since an attempt whose answer was lost (a timeout, a worker that died
        before the link): the shop record carrying its identity, unless another record is
        linked to it, is taken as made, agreed as the shop holds it (the platform's values
        then reach it as edits). None: not in the shop, create it."""
        try:
            found = self.adapter.find_in_store(self.service, op.values)
        except PlatformError as exc:  # cannot tell: owed again rather than made twice
            return WriteOutcome(op, error=str(exc), code=exc.code, transient=exc.transient)
        if (
            found is None
            or SyncRecordState.objects.filter(store=self.store, entity_type=self.name, shop_id=found.id).exists()
        ):
            return None
        return WriteOutcome(op, remote=found, unwritten=dict(op.values))


CHANGED_SINCE_PREVIEW = "CHANGED_SINCE_PREVIEW"


def planned_key(change: SyncChange) -> tuple:
    """One planned change, as an apply compares it: side, field, action, new value, settlement.
    An object (a create's values) read back from the database has its keys in jsonb's order:
    compared whatever the order."""
    value = change.new_value
    shown = json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict) else repr(value)
    return (change.side, change.field, change.action, shown, change.settled_by)


def planned_sets(changes: Iterable[SyncChange]) -> dict[tuple, set]:
    """(record pk, shop id) -> the record's planned changes; a record to create on the platform is
    known by its shop id only, one to create in the shop by its record pk only."""
    out: dict[tuple, set] = {}
    for change in changes:
        out.setdefault((change.record_pk, change.shop_id), set()).add(planned_key(change))
    return out


def conflict_row(job: StoreSyncJob, entity: str, item: Item, conflict: merge.Conflict) -> SyncChange:
    """A planned conflict: the side its settlement writes (the platform while pending), the value
    it replaces there and the winning value (the shop's while pending), and who settles it."""
    store_wins = conflict.winner != merge.PLATFORM
    side = ChangeSide.PLATFORM if store_wins else ChangeSide.STORE
    old, new = (
        (conflict.platform_value, conflict.store_value)
        if store_wins
        else (conflict.store_value, conflict.platform_value)
    )
    row = history.update_change(
        job, entity, side, conflict.field, old, new, record_pk=item.pair.obj.pk, shop_id=item.pair.remote.id
    )
    row.action = ChangeAction.CONFLICT
    row.settled_by = "pending" if conflict.pending else (conflict.decided_by or "strategy")[:40]
    return row


def _after_id(checkpoint: dict) -> int | None:
    """The shop id the store pass stopped at (checkpoints before keyset ids kept ``seen``)."""
    if checkpoint.get("after_id") is not None:
        return int(checkpoint["after_id"])
    seen = checkpoint.get("seen")
    return max(int(i) for i in seen) if seen else None


def _after(keyset: list[str], cursor: list) -> Q:
    if keyset == ["pk"]:
        return Q(pk__gt=cursor[0])
    moment = from_iso(cursor[0])
    return Q(updated_at__gt=moment) | Q(updated_at=moment, pk__gt=cursor[1])
