"""The change history's rows: one per field a batch updates (or, previewed, would update), with
the value it replaces. The sync writes them in bulk with the batch; a preview records them as
its plan; an undo reads them back.

A whole record is one row, ``field`` ``*`` (:data:`WHOLE_RECORD`): a record created on a side
is ``action`` ``create`` with its values as a dict in ``new_value`` (a first full sync records
one row per record, not one per value); a record deleted by delete propagation is ``action``
``delete``, its ``old_value`` the record's last synced values as a dict (what an undo creates
it again from). A deactivation is an ``update`` of ``status`` (see ``storesync.engine.deletes``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from storesync.constants import ChangeAction, ChangeSide
from storesync.engine.batch import Item
from storesync.engine.bulk import copy_rows
from storesync.models import StoreSyncJob, SyncChange


def _json(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, dict, list, type(None))) else str(value)


def item_changes(job: StoreSyncJob, entity: str, item: Item) -> list[SyncChange]:
    """The fields a merged record's writes change on each side, old and new."""
    obj, remote, result = item.pair.obj, item.pair.remote, item.result
    record = {"record_pk": obj.pk if obj is not None else None, "shop_id": remote.id if remote else None}
    rows = [
        update_change(job, entity, ChangeSide.STORE, name, remote.values.get(name) if remote else None, value, **record)
        for name, value in result.to_store.items()
    ]
    rows += [
        update_change(job, entity, ChangeSide.PLATFORM, name, item.platform_values.get(name), value, **record)
        for name, value in result.to_platform.items()
    ]
    return rows


WHOLE_RECORD = "*"  # the field of a create's or a delete's one row: the whole record


def delete_changes(
    job: StoreSyncJob, entity: str, side: str, values: dict[str, Any], *, record_pk=None, shop_id=None
) -> SyncChange:
    """A record deleted on ``side``: one row whose old value is its last synced values."""
    return SyncChange(
        store_id=job.store_id,
        job=job,
        entity_type=entity,
        record_pk=record_pk,
        shop_id=shop_id,
        field=WHOLE_RECORD,
        side=side,
        action=ChangeAction.DELETE,
        old_value={name: _json(value) for name, value in values.items()},
        new_value=None,
    )


def update_change(
    job: StoreSyncJob, entity: str, side: str, name: str, old: Any, new: Any, *, record_pk=None, shop_id=None
) -> SyncChange:
    """One field written on ``side`` outside a merge (a deactivation)."""
    return SyncChange(
        store_id=job.store_id,
        job=job,
        entity_type=entity,
        record_pk=record_pk,
        shop_id=shop_id,
        field=name,
        side=side,
        action=ChangeAction.UPDATE,
        old_value=_json(old),
        new_value=_json(new),
    )


def create_change(
    job: StoreSyncJob, entity: str, side: str, values: dict[str, Any], *, record_pk=None, shop_id=None
) -> SyncChange:
    """A record created on ``side``: one row whose new value is its values, with no old one."""
    return SyncChange(
        store_id=job.store_id,
        job_id=job.pk,
        entity_type=entity,
        record_pk=record_pk,
        shop_id=shop_id,
        field=WHOLE_RECORD,
        side=side,
        action=ChangeAction.CREATE,
        old_value=None,
        new_value={name: _json(value) for name, value in values.items()},
        created_at=timezone.now(),
    )


COPY_COLUMNS = (
    "store_id",
    "job_id",
    "entity_type",
    "record_pk",
    "shop_id",
    "field",
    "side",
    "action",
    "old_value",
    "new_value",
    "settled_by",
    "created_at",
)


def write_changes(rows: Sequence[SyncChange]) -> None:
    """Insert rows in bulk, in the caller's transaction: PostgreSQL's COPY, a few times faster
    than ``bulk_create``."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        SyncChange.objects.bulk_create(rows)
        return
    copy_rows(
        SyncChange._meta.db_table,
        COPY_COLUMNS,
        (
            (
                row.store_id,
                row.job_id,
                row.entity_type,
                row.record_pk,
                row.shop_id,
                row.field,
                row.side,
                row.action,
                None if row.old_value is None else json.dumps(row.old_value),
                None if row.new_value is None else json.dumps(row.new_value),
                row.settled_by,
                row.created_at,
            )
            for row in rows
        ),
    )
