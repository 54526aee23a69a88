"""A record's sync identity ("lineage"): its shop id, the base both sides last agreed on, the
last job that wrote each synced field, its owed changes and its pending conflicts.

Read from the existing tables in a constant number of queries, whatever the number of fields or
jobs: the platform record, its ``SyncRecordState``, the entity's configuration, the last
``SyncChange`` per field (one ``DISTINCT ON`` query; rows of preview jobs are plans that were
never written, so they are left out, and so are conflicts left pending), the open dead letters and the pending conflicts. Nothing
here depends on who wrote the change rows (the sync, an apply, an undo, a resolution).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Model, Q

from catalog.models import Customer, Order, Product, Store
from storesync.constants import SYNCABLE_FIELDS, ChangeAction, ConflictStatus, JobMode
from storesync.engine.entities import ADAPTERS, InvalidValue, normalize
from storesync.engine.history import WHOLE_RECORD
from storesync.models import DeadLetter, SyncChange, SyncConflict, SyncEntity, SyncRecordState
from storesync.presenters import display_value

# A conflict row left for a person wrote nothing (``SyncChange.settled_by``).
PENDING = ConflictStatus.PENDING.value


@dataclass(frozen=True)
class FieldLineage:
    name: str
    value: Any  # the platform's current value (normal form); None without a platform record
    base: Any  # the value both sides last agreed on; None before the first sync
    last_change: SyncChange | None  # the last written change of the field, by any job but a preview


@dataclass(frozen=True)
class Lineage:
    store: Store
    entity: str
    record_pk: int
    record: Model | None  # None: the platform record is gone, its sync state remains
    state: SyncRecordState | None  # None: never synced
    fields: list[FieldLineage] = field(default_factory=list)
    owed: list[DeadLetter] = field(default_factory=list)
    pending_conflicts: list[SyncConflict] = field(default_factory=list)

    @property
    def shop_id(self) -> int | None:
        if self.state is not None:
            return self.state.shop_id
        return getattr(self.record, "id_origin", None)

    @property
    def label(self) -> str:
        return record_label(self.record) if self.record is not None else f"{self.entity} {self.record_pk}"


def record_label(record: Model) -> str:
    """Product: title and sku; customer: e-mail; order: reference (the shop's id without one)."""
    if isinstance(record, Product):
        return f"{record.name} ({record.sku})" if record.sku else record.name
    if isinstance(record, Customer):
        return record.email
    if isinstance(record, Order):
        return record.reference or f"order {record.id_origin or record.pk}"
    return str(record)


def synced_fields(store: Store, entity: str) -> tuple[str, ...]:
    """The entity's configured fields (without the excluded ones), in the syncable order; every
    syncable field while the entity is not configured."""
    configured = SyncEntity.objects.filter(config__store=store, entity_type=entity).first()
    if configured is None or not configured.fields:
        return SYNCABLE_FIELDS[entity]
    chosen = set(configured.effective_fields)
    return tuple(name for name in SYNCABLE_FIELDS[entity] if name in chosen)


def last_changes(store: Store, entity: str, record_pk: int, shop_id: int | None, names) -> dict[str, SyncChange]:
    """The last written change of each field (one query: ``DISTINCT ON (field)``), by record pk,
    or by shop id for the rows written before the record had a platform pk. A record's create
    is one row for all its values (``field`` ``*``): it counts as the change of each of them,
    unless a later row of the field replaces it."""
    record = Q(record_pk=record_pk)
    if shop_id is not None:
        record |= Q(record_pk__isnull=True, shop_id=shop_id)
    rows = (
        SyncChange.objects.filter(record, store=store, entity_type=entity)
        .filter(Q(field__in=list(names)) | Q(field=WHOLE_RECORD, action=ChangeAction.CREATE))
        .exclude(job__mode=JobMode.PREVIEW)
        .exclude(action=ChangeAction.CONFLICT, settled_by=PENDING)
        .order_by("field", "-created_at", "-id")
        .distinct("field")
    )
    last = {row.field: row for row in rows}
    created = last.pop(WHOLE_RECORD, None)
    if created is not None:
        for name, value in created.new_value.items():
            row = last.get(name)
            if name in names and (row is None or (row.created_at, row.pk) < (created.created_at, created.pk)):
                last[name] = field_change(created, name, value)
    return last


def field_change(created: SyncChange, name: str, value: Any) -> SyncChange:
    """One value of a record's create row, as a row of its own (not saved)."""
    return SyncChange(
        pk=created.pk,
        store_id=created.store_id,
        job_id=created.job_id,
        entity_type=created.entity_type,
        record_pk=created.record_pk,
        shop_id=created.shop_id,
        field=name,
        side=created.side,
        action=created.action,
        old_value=None,
        new_value=value,
        settled_by=created.settled_by,
        created_at=created.created_at,
    )


def record_lineage(store: Store, entity: str, record_pk: int) -> Lineage | None:
    """The record's lineage; None when the store has no such record (on the platform or synced)."""
    adapter = ADAPTERS[entity]
    record = adapter.model.objects.filter(store=store, pk=record_pk).first()
    state = SyncRecordState.objects.filter(store=store, entity_type=entity, record_pk=record_pk).first()
    if record is None and state is None:
        return None
    shop_id = state.shop_id if state is not None else record.id_origin
    names = synced_fields(store, entity)
    changes = last_changes(store, entity, record_pk, shop_id, names)
    current = _platform_values(adapter, record) if record is not None else {}
    base = state.base if state is not None else {}
    fields = [FieldLineage(name, current.get(name), base.get(name), changes.get(name)) for name in names]
    mine = Q(record_pk=record_pk)
    if shop_id is not None:
        mine |= Q(record_pk__isnull=True, shop_id=shop_id)
    owed = list(DeadLetter.objects.owed().filter(mine, store=store, entity_type=entity).order_by("id"))
    conflicts = list(
        SyncConflict.objects.filter(
            store=store, entity_type=entity, record_pk=record_pk, status=ConflictStatus.PENDING
        ).order_by("id")
    )
    return Lineage(store, entity, record_pk, record, state, fields, owed, conflicts)


def _platform_values(adapter, record: Model) -> dict[str, Any]:
    """The record's values in normal form (as the merge compares them); one that has none, as text."""
    values = {}
    for attr, name in adapter.attributes.items():
        raw = getattr(record, attr)
        try:
            values[name] = normalize(adapter.entity, name, raw)
        except InvalidValue:
            values[name] = str(raw)
    return values


# The API's answer


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def change_item(change: SyncChange | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {
        "job_id": str(change.job_id),
        "side": change.side,
        "action": change.action,
        "old_value": display_value(change.field, change.old_value),
        "new_value": display_value(change.field, change.new_value),
        "at": _when(change.created_at),
    }


def lineage_item(lineage: Lineage) -> dict[str, Any]:
    state = lineage.state
    return {
        "entity": lineage.entity,
        "record_pk": lineage.record_pk,
        "shop_id": lineage.shop_id,
        "label": lineage.label,
        "base": {name: display_value(name, value) for name, value in state.base.items()} if state else None,
        "synced_at": _when(state.synced_at) if state else None,
        "store_modified": _when(state.store_modified) if state else None,
        "platform_modified": _when(state.platform_modified) if state else None,
        "fields": {
            f.name: {
                "value": display_value(f.name, f.value),
                "base": display_value(f.name, f.base),
                "last_change": change_item(f.last_change),
            }
            for f in lineage.fields
        },
        "owed": [
            {
                "id": letter.pk,
                "operation": letter.operation,
                "code": letter.code,
                "error": letter.error,
                "attempts": letter.attempts,
                "status": letter.status,
            }
            for letter in lineage.owed
        ],
        "pending_conflicts": [
            {
                "id": conflict.pk,
                "field": conflict.field,
                "store_value": display_value(conflict.field, conflict.store_value),
                "platform_value": display_value(conflict.field, conflict.platform_value),
                "base_value": display_value(conflict.field, conflict.base_value),
                "created_at": _when(conflict.created_at),
            }
            for conflict in lineage.pending_conflicts
        ],
    }
