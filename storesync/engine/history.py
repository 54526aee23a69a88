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


def change_row(
    job: StoreSyncJob, entity: str, side: str, action: str, field: str, old: Any, new: Any, *, record_pk, shop_id
) -> SyncChange:
    return SyncChange(
        store_id=job.store_id,
        job_id=job.pk,
        entity_type=entity,
        record_pk=record_pk,
        shop_id=shop_id,
        field=field,
        side=side,
        action=action,
        old_value=old,
        new_value=new,
    )


def delete_changes(
    job: StoreSyncJob, entity: str, side: str, values: dict[str, Any], *, record_pk=None, shop_id=None
) -> SyncChange:
    """A record deleted on ``side``: one row whose old value is its last synced values."""
    return whole_record(job, entity, side, ChangeAction.DELETE, values, record_pk=record_pk, shop_id=shop_id)


def whole_record(
    job: StoreSyncJob, entity: str, side: str, action: str, values: dict[str, Any], *, record_pk, shop_id
) -> SyncChange:
    """A create's or a delete's one row: the record's values, the new ones or the old ones."""
    held = {name: _json(value) for name, value in values.items()}
    old, new = (held, None) if action == ChangeAction.DELETE else (None, held)
    return change_row(job, entity, side, action, WHOLE_RECORD, old, new, record_pk=record_pk, shop_id=shop_id)


def update_change(
    job: StoreSyncJob, entity: str, side: str, name: str, old: Any, new: Any, *, record_pk=None, shop_id=None
) -> SyncChange:
    """One field written on ``side``."""
    return change_row(
        job, entity, side, ChangeAction.UPDATE, name, _json(old), _json(new), record_pk=record_pk, shop_id=shop_id
    )


def create_change(
    job: StoreSyncJob, entity: str, side: str, values: dict[str, Any], *, record_pk=None, shop_id=None
) -> SyncChange:
    """A record created on ``side``: one row whose new value is its values, with no old one."""
    return whole_record(job, entity, side, ChangeAction.CREATE, values, record_pk=record_pk, shop_id=shop_id)


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
