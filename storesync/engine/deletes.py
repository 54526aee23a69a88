"""Delete propagation (docs/sync-deletes.md): a record deleted on one side, and what the
entity's ``delete_policy`` does to its counterpart on the other.

- **Deleted in the shop.** A reconciliation sweep (:func:`gone_from_shop`) reads the shop's ids
  only, by keyset on the id, and compares them with the sync state's shop ids: a linked record
  whose shop id is gone was deleted in the shop. The platform record is then deactivated
  (products: ``status`` inactive) or deleted; either way its sync state goes, as the shop
  record it linked to is no more.
- **Deleted on the platform.** A :class:`~storesync.models.SyncTombstone` (written when a linked
  platform record is deleted, see ``storesync.tombstones``) is consumed by the next sync of its
  entity: the shop record is deactivated (``active=0``, its sync state stays, so the shop record
  is not created again on the platform) or deleted (its sync state goes).

:func:`plan_deletes` is the one place that decides: it turns what was seen deleted into the
planned deletes (:class:`PlannedDelete`), which the preview and the mass-change brake can count.
:class:`DeletePass` runs the sweep and the tombstones for one entity of a job, applies the plan
and writes the history (``storesync.engine.history.delete_changes``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from catalog.models import ProductStatus
from catalog.platforms import PlatformNotFound
from storesync.constants import ChangeSide, DeletePolicy, Direction, EntityType, JobMode
from storesync.engine.batch import BatchOutcome
from storesync.engine.entities import EntityAdapter, InvalidValue
from storesync.engine.history import delete_changes, update_change
from storesync.engine.locks import store_lock
from storesync.engine.shop_writer import WriteOp
from storesync.models import StoreSyncJob, SyncChange, SyncEntity, SyncRecordState, SyncTombstone

logger = logging.getLogger(__name__)

# Ids per page of a sweep: one small request each (ids only).
SWEEP_PAGE_SIZE = 1000
# What a deactivation writes, by side and entity: the field and its inactive value.
INACTIVE = {
    ChangeSide.PLATFORM: {EntityType.PRODUCTS: ("status", ProductStatus.INACTIVE.value)},
    ChangeSide.STORE: {EntityType.PRODUCTS: ("status", ProductStatus.INACTIVE.value)},
}


@dataclass(frozen=True)
class DeleteSeen:
    """A record deleted on one side: ``deleted_on`` ``store`` (the sweep found its shop id gone)
    or ``platform`` (a tombstone)."""

    deleted_on: str
    record_pk: int
    shop_id: int
    values: dict[str, Any]  # the record's last synced values (and the platform's current ones)
    current: dict[str, Any] = field(default_factory=dict)  # the counterpart's values now, where known
    tombstone_id: int | None = None


@dataclass(frozen=True)
class PlannedDelete:
    """A write the sync plans on ``side`` (the side written) for a record deleted on the other:
    ``action`` is ``deactivate`` or ``delete``."""

    side: str
    action: str
    record_pk: int
    shop_id: int
    values: dict[str, Any]
    current: dict[str, Any]
    tombstone_id: int | None = None


def plan_deletes(entity: SyncEntity, seen: list[DeleteSeen], *, writable_in_store: bool = True) -> list[PlannedDelete]:
    """The deletes and deactivations the entity's policy and direction plan for what was seen
    deleted; the rest (policy ``ignore``, a direction that does not write that side) is left as it is."""
    policy = entity.delete_policy
    if policy == DeletePolicy.IGNORE:
        return []
    to_platform = entity.direction in (Direction.BIDIRECTIONAL, Direction.TO_PLATFORM)
    to_store = entity.direction in (Direction.BIDIRECTIONAL, Direction.TO_STORE) and writable_in_store
    planned = []
    for item in seen:
        side = ChangeSide.PLATFORM if item.deleted_on == ChangeSide.STORE else ChangeSide.STORE
        if not (to_platform if side == ChangeSide.PLATFORM else to_store):
            continue
        if policy == DeletePolicy.DEACTIVATE and entity.entity_type not in INACTIVE[side]:
            continue  # no active flag on that side (rejected by the configuration's checks)
        planned.append(
            PlannedDelete(side, policy, item.record_pk, item.shop_id, item.values, item.current, item.tombstone_id)
        )
    return planned


def gone_from_shop(adapter: EntityAdapter, service, store, *, page_size: int) -> Iterator[list[SyncRecordState]]:
    """The sync states (in pages) whose shop id the shop no longer lists. Reads only ids, in pages
    by keyset on the id; each page of ids is compared with the states of its id range.

    A shop that lists no id at all is not swept: an empty answer more likely means a wrong shop
    or a key that may not list the entity than a shop emptied, and would delete everything."""
    states = SyncRecordState.objects.filter(store=store, entity_type=adapter.entity)
    after = None
    for page in adapter.ids(service, page_size):
        window = states.filter(shop_id__lte=page[-1])
        if after is not None:
            window = window.filter(shop_id__gt=after)
        present = set(page)
        gone = [i for i in window.values_list("shop_id", flat=True) if i not in present]
        if gone:
            yield list(states.filter(shop_id__in=gone).order_by("shop_id"))
        after = page[-1]
    if after is None:
        logger.warning("store %s: the shop lists no %s; not swept", store.pk, adapter.entity)
        return
    rest = states.filter(shop_id__gt=after)
    while chunk := list(rest.order_by("shop_id")[:page_size]):
        yield chunk
        if len(chunk) < page_size:
            return
        rest = rest.filter(shop_id__gt=chunk[-1].shop_id)


class DeletePass:
    """The deletes of one entity of a job: the sweep's (when asked) and the open tombstones'.

    A dry run (a ``preview`` job, or the brake's plan of a sync) records the planned deletes and
    deactivations as its change rows and writes nothing (the tombstones stay open, the sync state stays); ``apply`` and ``undo``
    jobs run no delete pass (an apply's deletes and an undo's re-creates are theirs)."""

    def __init__(self, job: StoreSyncJob, entity: SyncEntity, adapter: EntityAdapter, writer, ledger, *, batch_size):
        self.job, self.entity, self.adapter, self.writer, self.ledger = job, entity, adapter, writer, ledger
        self.store, self.name, self.batch_size = job.store, entity.entity_type, batch_size
        self.model: type[models.Model] = adapter.model
        # A dry run (a preview, or the brake's plan before a sync) records, never deletes.
        self.preview = ledger.dry or job.mode == JobMode.PREVIEW

    def run(self, service, *, sweep: bool) -> None:
        if self.job.mode in (JobMode.APPLY, JobMode.UNDO):
            return
        if sweep and self.entity.delete_policy != DeletePolicy.IGNORE:
            for states in gone_from_shop(self.adapter, service, self.store, page_size=SWEEP_PAGE_SIZE):
                self.ledger.check_cancelled()
                self.shop_deletes(states)
        self.tombstones()

    # Deleted in the shop

    def shop_deletes(self, states: list[SyncRecordState]) -> None:
        with store_lock(self.store.pk), transaction.atomic():
            objs = {obj.pk: obj for obj in self.model.objects.filter(pk__in=[s.record_pk for s in states])}
            seen = []
            for state in states:
                obj = objs.get(state.record_pk)
                if obj is None:
                    continue  # gone from both sides: the state goes below
                current = self.platform_values(obj)
                seen.append(DeleteSeen(ChangeSide.STORE, obj.pk, state.shop_id, {**state.base, **current}, current))
            planned = plan_deletes(self.entity, seen, writable_in_store=self.adapter.writable_in_store)
            SyncChange.objects.bulk_create([c for p in planned for c in self.changes(p)])
            if self.preview:
                return
            done = {p.record_pk for p in planned}
            # The states of records gone from both sides, and of those the plan settles, go.
            forget = [s.pk for s in states if s.record_pk not in objs or s.record_pk in done]
            SyncRecordState.objects.filter(pk__in=forget).delete()
            self.ledger.save_progress(self.apply_platform(planned), None)

    def apply_platform(self, planned: list[PlannedDelete]) -> BatchOutcome:
        outcome = BatchOutcome()
        deactivate = [p.record_pk for p in planned if p.action == DeletePolicy.DEACTIVATE]
        delete = [p.record_pk for p in planned if p.action == DeletePolicy.DELETE]
        if deactivate:
            name, value = INACTIVE[ChangeSide.PLATFORM][self.name]
            attr = {v: k for k, v in self.adapter.attributes.items()}[name]
            self.model.objects.filter(pk__in=deactivate).update(**{attr: value}, updated_at=timezone.now())
        if delete:
            # Their states went first: the tombstone receiver writes none for them.
            self.model.objects.filter(pk__in=delete).delete()
        outcome.counts.records_synced += len(planned)
        outcome.counts.records_updated += len(deactivate)
        outcome.counts.records_deleted += len(delete)
        return outcome

    # Deleted on the platform

    def tombstones(self) -> None:
        open_ = SyncTombstone.objects.filter(store=self.store, entity_type=self.name, processed_at__isnull=True)
        after = 0
        while batch := list(open_.filter(pk__gt=after).order_by("pk")[: self.batch_size]):
            self.ledger.check_cancelled()
            after = batch[-1].pk
            self.platform_deletes(batch)

    def platform_deletes(self, tombstones: list[SyncTombstone]) -> None:
        with store_lock(self.store.pk):
            seen = [
                DeleteSeen(ChangeSide.PLATFORM, t.record_pk, t.shop_id, t.values, t.values, tombstone_id=t.pk)
                for t in tombstones
            ]
            planned = plan_deletes(self.entity, seen, writable_in_store=self.adapter.writable_in_store)
            if self.preview:
                SyncChange.objects.bulk_create([c for p in planned for c in self.changes(p)])
                return
            ops = [self.shop_op(p) for p in planned]
            results = self.writer.run(self.adapter, ops) if ops else []
            now, outcome, changes = timezone.now(), BatchOutcome(), []
            done = {t.pk: "ignored" for t in tombstones}
            forget: list[int] = []
            for p, result in zip(planned, results, strict=True):
                outcome.counts.records_synced += 1
                outcome.counts.shop_writes += 1
                if not result.ok and result.code == PlatformNotFound.code:
                    done[p.tombstone_id] = "gone"  # the shop deleted it too: nothing left to pair
                    forget.append(p.shop_id)
                    continue
                if not result.ok:
                    del done[p.tombstone_id]  # stays open: the next sync tries again
                    operation = "delete_store" if p.action == DeletePolicy.DELETE else "update_store"
                    self.ledger.record_error(outcome, operation, p.record_pk, p.shop_id, result.code, result.error)
                    continue
                changes += self.changes(p)
                if p.action == DeletePolicy.DELETE:
                    done[p.tombstone_id] = "deleted"
                    forget.append(p.shop_id)
                    outcome.counts.records_deleted += 1
                else:
                    done[p.tombstone_id] = "deactivated"
                    outcome.counts.records_updated += 1
            with transaction.atomic():
                SyncRecordState.objects.filter(store=self.store, entity_type=self.name, shop_id__in=forget).delete()
                for outcome_name in set(done.values()):
                    pks = [pk for pk, o in done.items() if o == outcome_name]
                    SyncTombstone.objects.filter(pk__in=pks).update(
                        processed_at=now, job=self.job, outcome=outcome_name
                    )
                SyncChange.objects.bulk_create(changes)
                self.ledger.save_progress(outcome, None)

    def shop_op(self, planned: PlannedDelete) -> WriteOp:
        if planned.action == DeletePolicy.DELETE:
            return WriteOp("delete", planned.shop_id, {})
        name, value = INACTIVE[ChangeSide.STORE][self.name]
        return WriteOp("update", planned.shop_id, {name: value})

    # Helpers

    def platform_values(self, obj: models.Model) -> dict[str, Any]:
        try:
            return self.adapter.platform_values(obj)
        except InvalidValue:
            return {}

    def changes(self, planned: PlannedDelete) -> list[SyncChange]:
        """The history rows of a planned delete (one, ``*``) or deactivation (its field, unless
        it was inactive already)."""
        ids = self.ids(planned)
        if planned.action == DeletePolicy.DELETE:
            return [delete_changes(self.job, self.name, planned.side, planned.values, **ids)]
        name, value = INACTIVE[planned.side][self.name]
        old = planned.current.get(name)
        if old == value:
            return []
        return [update_change(self.job, self.name, planned.side, name, old, value, **ids)]

    @staticmethod
    def ids(planned: PlannedDelete) -> dict[str, int]:
        return {"record_pk": planned.record_pk, "shop_id": planned.shop_id}
