"""An undo job (``JobMode.UNDO``): the writes of its ``source_job``, taken back where nothing
moved since.

For each entity, the source job's change rows are read in id order, a batch at a time, under
the store's lock:

* ``update`` rows: the written side's current value is read (the shop by id through the
  adapter, in one request per batch; the platform from the database). Where it still equals
  the value the job wrote, the old value is written back (the shop through the
  :class:`ShopWriter`, the platform through the model), the field of the record's sync state
  base becomes the old value (the record's state before the job: the next sync merges it as it
  would have before the job), and the undo records its own change rows (an undo can be
  undone). Where it moved since, nothing is written: the row is reported in the job's errors
  (record, field, expected, found) and counted ``moved_since``. A value already back to the old
  one (a redelivered batch whose shop writes happened) counts as restored.
* ``create`` rows: created records are not deleted by an undo; they are counted ``kept``.
* ``delete`` rows (a record the job deleted, ``docs/sync-deletes.md``): the record is made again
  with its last synced values and counted ``recreated``. On the platform it is linked to the
  shop id it had, with its sync state (the next sync sees the shop's delete again, as before
  the job); in the shop it gets a new shop id, whose sync state names the platform record that
  was deleted (so the next sync does not bring it back to the platform). A platform record that
  cannot be made again (another record linked to its shop id since) is reported, not made.

The platform's writes, the bases, the undo's change rows and the checkpoint (the last row
taken back) are committed together, so a redelivered undo resumes after its last batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.error_codes import ErrorCode
from storesync.constants import ChangeAction, ChangeSide
from storesync.engine.batch import new_entity_result
from storesync.engine.entities import ADAPTERS, InvalidValue, normalize
from storesync.engine.history import _json, create_change, write_changes
from storesync.engine.locks import store_lock
from storesync.engine.scanning import iso
from storesync.engine.shop_writer import ShopWriter, WriteOp
from storesync.models import StoreSyncJob, SyncChange, SyncRecordState

MOVED_SINCE = "Moved since the job wrote it: left as it is."
MOVED_SINCE_CODE = "MOVED_SINCE"
COUNTERS = ("restored", "moved_since", "kept", "recreated")
NOT_RECREATED = "Could not be made again"


class EntityUndo:
    """One entity of an undo job."""

    def __init__(self, job: StoreSyncJob, name: str, service, writer: ShopWriter, *, progress: Callable):
        self.job, self.name, self.service, self.writer, self.progress = job, name, service, writer, progress
        self.store = job.store
        self.adapter = ADAPTERS[name]
        self.model = self.adapter.model
        self.kept: set[tuple] = set()

    def run(self) -> None:
        after = int((self.job.checkpoint.get(self.name) or {}).get("after", 0))
        rows = SyncChange.objects.filter(job_id=self.job.source_job_id, entity_type=self.name).order_by("id")
        size = settings.STORESYNC_BATCH_SIZE
        while batch := list(rows.filter(id__gt=after)[:size]):
            with store_lock(self.store.pk):
                self.batch(batch)
            after = batch[-1].pk
        with transaction.atomic():
            job = StoreSyncJob.objects.select_for_update().get(pk=self.job.pk)
            result = job.entity_results.setdefault(self.name, new_entity_result())
            result["status"], result["finished_at"] = "completed", iso(timezone.now())
            job.checkpoint = {k: v for k, v in job.checkpoint.items() if k != self.name}
            job.save(update_fields=["entity_results", "checkpoint"])
            self.job.entity_results, self.job.checkpoint = job.entity_results, job.checkpoint

    def batch(self, rows: list[SyncChange]) -> None:
        counts = dict.fromkeys(COUNTERS, 0)
        errors: list[dict] = []
        created = {(row.record_pk, row.shop_id) for row in rows if row.action == ChangeAction.CREATE}
        counts["kept"] = len(created - self.kept)  # records (their create rows may span two batches)
        self.kept |= created
        updates = [row for row in rows if row.action == ChangeAction.UPDATE]
        current = self.current_values(updates)
        todo: list[SyncChange] = []
        for row in updates:
            found = current.get((row.side, row.pk), _GONE)
            if self.same(row.field, found, row.new_value):
                todo.append(row)
            elif self.same(row.field, found, row.old_value):
                counts["restored"] += 1  # already back (a redelivered batch's shop write)
            else:
                counts["moved_since"] += 1
                errors.append(self.moved(row, found))
        done = self.write_shop([row for row in todo if row.side == ChangeSide.STORE], errors)
        done += [row for row in todo if row.side == ChangeSide.PLATFORM]
        counts["restored"] += len(done)
        deleted = [row for row in rows if row.action == ChangeAction.DELETE]
        made_in_shop = self.recreate_in_shop([row for row in deleted if row.side == ChangeSide.STORE], errors)
        with transaction.atomic():
            self.write_platform([row for row in done if row.side == ChangeSide.PLATFORM])
            self.restore_bases(done)
            recreated = self.recreate_on_platform([row for row in deleted if row.side == ChangeSide.PLATFORM], errors)
            recreated += self.link_recreated(made_in_shop)
            counts["recreated"] += len({(row.side, row.record_pk, row.shop_id) for row in recreated})
            write_changes([self.taken_back(row) for row in done] + recreated)
            self.save_progress(rows, done, counts, errors)

    # Reading

    def current_values(self, rows: list[SyncChange]) -> dict[tuple[str, int], Any]:
        """(side, change id) -> the written side's value now (absent: the record is gone)."""
        values: dict[tuple[str, int], Any] = {}
        shop_ids = {row.shop_id for row in rows if row.side == ChangeSide.STORE and row.shop_id is not None}
        remotes = {r.id: r for r in self.adapter.fetch(self.service, sorted(shop_ids))} if shop_ids else {}
        pks = {row.record_pk for row in rows if row.side == ChangeSide.PLATFORM and row.record_pk is not None}
        objs = self.model.objects.filter(store=self.store).in_bulk(sorted(pks)) if pks else {}
        platform: dict[int, dict[str, Any]] = {}
        for pk, obj in objs.items():
            try:
                platform[pk] = self.adapter.platform_values(obj)
            except InvalidValue:
                continue  # not a value the job could have written: moved since
        for row in rows:
            if row.side == ChangeSide.STORE and row.shop_id in remotes:
                values[(row.side, row.pk)] = remotes[row.shop_id].values.get(row.field)
            elif row.side == ChangeSide.PLATFORM and row.record_pk in platform:
                values[(row.side, row.pk)] = platform[row.record_pk].get(row.field)
        return values

    def same(self, field: str, a: Any, b: Any) -> bool:
        if a is _GONE or b is _GONE:
            return False
        try:
            return normalize(self.name, field, a) == normalize(self.name, field, b)
        except (InvalidValue, KeyError):
            return a == b

    # Writing

    def write_shop(self, rows: list[SyncChange], errors: list[dict]) -> list[SyncChange]:
        """The old values back in the shop, one update per record; the rows whose write took."""
        by_record: dict[int, list[SyncChange]] = {}
        for row in rows:
            by_record.setdefault(row.shop_id, []).append(row)
        ops = [
            WriteOp("update", shop_id, {r.field: r.old_value for r in group}) for shop_id, group in by_record.items()
        ]
        done: list[SyncChange] = []
        for op, outcome in zip(ops, self.writer.run(self.adapter, ops) if ops else [], strict=True):
            group = by_record[op.shop_id]
            if outcome.ok:
                done += group
                continue
            for row in group:
                errors.append(self.error(row, outcome.code or ErrorCode.INVALID_DATA_FORMAT, outcome.error))
        return done

    def write_platform(self, rows: list[SyncChange]) -> None:
        by_record: dict[int, dict[str, Any]] = {}
        for row in rows:
            by_record.setdefault(row.record_pk, {})[row.field] = row.old_value
        objs = self.model.objects.filter(store=self.store).in_bulk(list(by_record)) if by_record else {}
        for pk, values in by_record.items():
            obj = objs[pk]
            changed = self.adapter.apply(obj, values)
            obj.save(update_fields=[*changed, "updated_at"])

    def recreate_in_shop(self, rows: list[SyncChange], errors: list[dict]) -> list[tuple[SyncChange, Any]]:
        """Records the job deleted in the shop, created there again: (row, the new shop record)."""
        fields = set(self.adapter.attributes.values())
        ops = [WriteOp("create", None, {k: v for k, v in row.old_value.items() if k in fields}) for row in rows]
        made = []
        for row, outcome in zip(rows, self.writer.run(self.adapter, ops) if ops else [], strict=True):
            if outcome.remote is None:
                errors.append(self.error(row, outcome.code or ErrorCode.INVALID_DATA_FORMAT, outcome.error))
            else:
                made.append((row, outcome.remote))
        return made

    def link_recreated(self, made: list[tuple[SyncChange, Any]]) -> list[SyncChange]:
        """Each record made again in the shop keeps the deleted platform record's pk in its sync
        state: to the next sync it is a record deleted on the platform, not a new one."""
        rows, now = [], timezone.now()
        for row, remote in made:
            SyncRecordState.objects.update_or_create(
                store=self.store,
                entity_type=self.name,
                shop_id=remote.id,
                defaults={
                    "record_pk": row.record_pk,
                    "base": dict(row.old_value),
                    "store_modified": remote.modified,
                    "platform_modified": None,
                    "synced_at": now,
                },
            )
            rows.append(
                create_change(
                    self.job,
                    self.name,
                    ChangeSide.STORE,
                    dict(row.old_value),
                    record_pk=row.record_pk,
                    shop_id=remote.id,
                )
            )
        return rows

    def recreate_on_platform(self, rows: list[SyncChange], errors: list[dict]) -> list[SyncChange]:
        """Records the job deleted on the platform, made again linked to their shop id."""
        made, now = [], timezone.now()
        for row in rows:
            obj = self.model(store=self.store, id_origin=row.shop_id)
            self.adapter.apply(obj, row.old_value)
            try:
                with transaction.atomic():
                    obj.save()
                    SyncRecordState.objects.filter(
                        store=self.store, entity_type=self.name, shop_id=row.shop_id
                    ).delete()
                    SyncRecordState.objects.create(
                        store=self.store,
                        entity_type=self.name,
                        record_pk=obj.pk,
                        shop_id=row.shop_id,
                        base=dict(row.old_value),
                        platform_modified=obj.updated_at,
                        synced_at=now,
                    )
            except IntegrityError as exc:  # another record linked to its shop id since
                errors.append(self.error(row, MOVED_SINCE_CODE, f"{NOT_RECREATED}: {exc}".splitlines()[0]))
                continue
            made.append(
                create_change(
                    self.job, self.name, ChangeSide.PLATFORM, dict(row.old_value), record_pk=obj.pk, shop_id=row.shop_id
                )
            )
        return made

    def restore_bases(self, rows: list[SyncChange]) -> None:
        """Each field's base as before the job: the next sync merges the record as it would have then."""
        if not rows:
            return
        states = {
            state.record_pk: state
            for state in SyncRecordState.objects.filter(
                store=self.store, entity_type=self.name, record_pk__in={row.record_pk for row in rows}
            )
        }
        changed = {}
        for row in rows:
            state = states.get(row.record_pk)
            if state is not None and row.field in state.base:
                state.base = {**state.base, row.field: row.old_value}
                changed[state.pk] = state
        if changed:
            SyncRecordState.objects.bulk_update(list(changed.values()), ["base"])

    def taken_back(self, row: SyncChange) -> SyncChange:
        return SyncChange(
            store_id=self.store.pk,
            job=self.job,
            entity_type=self.name,
            record_pk=row.record_pk,
            shop_id=row.shop_id,
            field=row.field,
            side=row.side,
            action=ChangeAction.UPDATE,
            old_value=row.new_value,
            new_value=row.old_value,
        )

    # Bookkeeping

    def save_progress(self, rows: list[SyncChange], done: list[SyncChange], counts: dict, errors: list[dict]) -> None:
        records = {(row.record_pk, row.shop_id) for row in rows}
        job = StoreSyncJob.objects.select_for_update().get(pk=self.job.pk)
        result = job.entity_results.setdefault(self.name, new_entity_result())
        result["status"] = "in_progress"
        result["records_synced"] = result.get("records_synced", 0) + len(records)
        result["records_total"] = max(result.get("records_total", 0), result["records_synced"])
        result["records_updated"] = result.get("records_updated", 0) + len({(r.record_pk, r.shop_id) for r in done})
        result["errors"] = result.get("errors", 0) + len(errors)
        for key, value in counts.items():
            result[key] = result.get(key, 0) + value
        job.checkpoint = {**job.checkpoint, self.name: {"after": rows[-1].pk}}
        job.save(update_fields=["entity_results", "checkpoint"])
        self.job.entity_results, self.job.checkpoint = job.entity_results, job.checkpoint
        self.progress(
            total=sum(r.get("records_total", 0) for r in job.entity_results.values()),
            processed=len(rows),
            succeeded=len(rows) - len(errors),
            failed=len(errors),
            counters=counts,
            errors=errors,
        )

    def moved(self, row: SyncChange, found: Any) -> dict:
        return {
            **self.error(row, MOVED_SINCE_CODE, MOVED_SINCE),
            "expected": _json(row.new_value),
            "found": None if found is _GONE else _json(found),
        }

    def error(self, row: SyncChange, code: str, message: str) -> dict:
        return {
            "entity": self.name,
            "operation": f"undo_{row.side}",
            "record_pk": row.record_pk,
            "shop_id": row.shop_id,
            "field": row.field,
            "code": code,
            "message": message[:500],
        }


_GONE = object()


def note(job: StoreSyncJob) -> str:
    """What a finished undo says: its counters."""
    counters = job.counters or {}
    return (
        f"Undo of {job.source_job_id}: {counters.get('restored', 0)} restored, "
        f"{counters.get('moved_since', 0)} moved since (left as they are), "
        f"{counters.get('kept', 0)} created kept (an undo deletes no record), "
        f"{counters.get('recreated', 0)} deleted made again."
    )
