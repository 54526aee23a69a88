"""A job's plan in totals (previews, the mass-change brake) and the brake's rule.

A dry run (``Ledger(dry=True)``) records its plan as the job's ``SyncChange`` rows. Here those
rows are counted per entity, and the brake decides whether a sync must plan before it writes
(:func:`could_exceed`) and whether its plan is over the entity's limit (:func:`over_limit`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef

from storesync.constants import ChangeAction, SyncType
from storesync.engine.entities import ADAPTERS
from storesync.models import DeadLetter, StoreSyncJob, SyncChange, SyncEntity, SyncRecordState, SyncTombstone

ACTIONS = (ChangeAction.CREATE, ChangeAction.UPDATE, ChangeAction.DELETE, ChangeAction.CONFLICT)


def totals(job: StoreSyncJob) -> dict[str, dict[str, int]]:
    """Per entity: the records the plan creates, updates, deletes, leaves in conflict; the
    records it touches at all; and its overwrites (records whose existing value, on either
    side, is replaced, or that are deleted): what the brake counts."""
    keys: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    rows = SyncChange.objects.filter(job=job).values_list("entity_type", "record_pk", "shop_id", "action", "old_value")
    for entity, record_pk, shop_id, action, old in rows.iterator(chunk_size=2000):
        record = keys[entity]
        key = (record_pk, shop_id)
        record[action].add(key)
        record["records"].add(key)
        if action == ChangeAction.DELETE or (action == ChangeAction.UPDATE and old not in (None, "")):
            record["overwrites"].add(key)
    return {
        entity: {name: len(keys[entity][name]) for name in (*ACTIONS, "records", "overwrites")}
        for entity in sorted(keys)
    }


def limit(entity: SyncEntity) -> int:
    """The lower of ``max_changes`` and ``max_changes_percent`` of the entity's platform records
    (rounded down: a plan is over when it overwrites more than that percentage)."""
    count = ADAPTERS[entity.entity_type].model.objects.filter(store_id=entity.config.store_id).count()
    return min(entity.max_changes, entity.max_changes_percent * count // 100)


def could_exceed(job: StoreSyncJob, entity: SyncEntity, service) -> bool:
    """Whether the job might plan more overwrites than the limit, so it must plan first.

    A limit of at least the entity's record count (``max_changes_percent`` 100 and
    ``max_changes`` as high) cannot be exceeded: no plan first. A full sync (or a first one)
    always plans first, and so does a sync that sweeps the shop's ids for deletes. An
    incremental one plans first only when the records changed since the watermarks may exceed
    the limit: the platform's changed since its watermark, plus the owed records, plus the
    platform's open tombstones, plus the shop's changed since its watermark (one id-only read,
    counted up to the limit): an upper bound of what it can overwrite or delete.
    """
    model = ADAPTERS[entity.entity_type].model
    store_id = entity.config.store_id
    allowed = limit(entity)
    if allowed >= model.objects.filter(store_id=store_id).count():
        return False  # no plan can overwrite more records than there are (100% turns the brake off)
    if job.sync_type == SyncType.FULL or entity.store_watermark is None or entity.platform_watermark is None:
        return True
    if job.options.get("sweep_deletes"):
        return True  # the shop's deletes are known only once its ids are read: as a full sync
    since = entity.platform_watermark - timedelta(seconds=settings.STORESYNC_CLOCK_SKEW)
    settled = SyncRecordState.objects.filter(
        store_id=store_id,
        entity_type=entity.entity_type,
        record_pk=OuterRef("pk"),
        platform_modified=OuterRef("updated_at"),
    )
    # Changed since the watermark and not as the last sync left them (the platform pass's candidates).
    bound = model.objects.filter(store_id=store_id, updated_at__gte=since).exclude(Exists(settled)).count()
    bound += DeadLetter.objects.owed().filter(store_id=store_id, entity_type=entity.entity_type).count()
    # Records deleted on the platform since: their tombstones, each a delete or deactivation to plan.
    bound += SyncTombstone.objects.filter(
        store_id=store_id, entity_type=entity.entity_type, processed_at__isnull=True
    ).count()
    if bound > allowed:
        return True
    bound += service.count_changed(entity.entity_type, entity.store_watermark, limit=allowed - bound + 1)
    return bound > allowed


def over_limit(job: StoreSyncJob, entities: dict[str, SyncEntity], plan: dict[str, dict[str, int]]) -> list[str]:
    """Why the plan is held: one line per entity over its limit (empty: it may run)."""
    reasons = []
    for name, counts in plan.items():
        entity = entities.get(name)
        if entity is None:
            continue
        allowed = limit(entity)
        if counts["overwrites"] > allowed:
            reasons.append(f"{name}: {counts['overwrites']} overwrites or deletes planned, the limit is {allowed}")
    return reasons
