"""Store sync operations, shared by the API, the admin, the tasks and the demo command.

Conflict resolution lives in ``storesync.resolution``, the job runner in
``storesync.runner``, the engine in ``storesync.engine.sync`` (with its pure core in
``storesync.engine.merge``).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import Store
from catalog.platforms import (
    NO_PLATFORM,
    PLATFORMS,
    PlatformNotConfigured,
    PlatformUnsupported,
    validate_platform_url,
)
from config.jobs import JobStatus, JobTrigger, fail_stale_jobs
from storesync.constants import (
    DEFAULT_DIRECTIONS,
    DEFAULT_MAX_CHANGES,
    DEFAULT_MAX_CHANGES_PERCENT,
    FREQUENCY_INTERVALS,
    SYNCABLE_FIELDS,
    ChangeSide,
    DeletePolicy,
    Frequency,
    JobMode,
    Priority,
    Strategy,
    SyncType,
)
from storesync.engine.batch import new_entity_result
from storesync.exceptions import (
    InvalidSyncInput,
    JobNotFinished,
    JobNotUndoable,
    JobStateConflict,
    QueueFull,
    SyncNotConfigured,
    SyncPaused,
)
from storesync.models import (
    DeadLetter,
    DeadLetterStatus,
    StoreSyncJob,
    SyncChange,
    SyncConfig,
    SyncEntity,
    SyncFilter,
    SyncRule,
)
from storesync.runner import StoreSyncRunner, forget_progress
from storesync.signals import sync_resumed
from storesync.validation import normalize_action

logger = logging.getLogger(__name__)

# A job that wrote what it will write: it may be undone (a failed or cancelled one may have written batches).
UNDOABLE_STATUSES = (JobStatus.SUCCEEDED, JobStatus.PARTIAL, JobStatus.FAILED, JobStatus.CANCELLED)

# A dispatcher tick may come a little early; a store this close to due is due.
DISPATCH_TOLERANCE = timedelta(seconds=10)


def get_config(store: Store) -> SyncConfig:
    """The store's configuration; 409 SYNC_NOT_CONFIGURED for an action on a store without one."""
    config = SyncConfig.objects.filter(store=store).select_related("store").first()
    if config is None:
        raise SyncNotConfigured()
    return config


def get_config_or_404(store: Store) -> SyncConfig:
    """The same for a read: 404 SYNC_NOT_CONFIGURED."""
    try:
        return get_config(store)
    except SyncNotConfigured as exc:
        exc.http_status = 404
        raise


# Configuration


def configure_sync(
    store: Store,
    *,
    sync_frequency: str,
    entities: list[dict[str, Any]],
    webhook_config: dict[str, Any] | None | bool = False,
) -> SyncConfig:
    """Replace a store's configuration. Entities left out are disabled (their watermarks
    and sync state are kept for when they come back). ``webhook_config``: False keeps the
    current one, None clears it, a dict sets it (a missing secret keeps the current one)."""
    with transaction.atomic():
        config, _ = SyncConfig.objects.select_for_update().get_or_create(store=store)
        config.sync_frequency = sync_frequency
        if webhook_config is None:
            config.webhook_endpoint, config.webhook_secret = "", ""
        elif webhook_config is not False:
            config.webhook_endpoint = validate_platform_url(webhook_config["endpoint"])
            if webhook_config.get("secret"):
                config.webhook_secret = webhook_config["secret"]
        config.save()
        existing = {entity.entity_type: entity for entity in config.entities.all()}
        for position, spec in enumerate(entities):
            entity_type = spec["type"]
            entity = existing.pop(entity_type, None) or SyncEntity(config=config, entity_type=entity_type)
            entity.enabled = True
            entity.position = position
            entity.direction = spec.get("direction") or DEFAULT_DIRECTIONS[entity_type]
            entity.conflict_resolution = spec.get("conflict_resolution") or Strategy.LAST_WRITE_WINS
            entity.fields = list(spec.get("fields") or SYNCABLE_FIELDS[entity_type])
            entity.delete_policy = spec.get("delete_policy") or DeletePolicy.IGNORE
            entity.max_changes = spec.get("max_changes", DEFAULT_MAX_CHANGES)
            entity.max_changes_percent = spec.get("max_changes_percent", DEFAULT_MAX_CHANGES_PERCENT)
            entity.full_clean(exclude=["config"])
            entity.save()
        for entity in existing.values():
            entity.enabled = False
            entity.save(update_fields=["enabled"])
    return config


def set_rules(store: Store, rules: list[dict[str, Any]], *, replace: bool = False) -> list[SyncRule]:
    """Add or update rules by name (``replace``: the store's rules become exactly these)."""
    config = get_config(store)
    with transaction.atomic():
        SyncConfig.objects.select_for_update().get(pk=config.pk)
        if replace:
            config.rules.exclude(name__in=[rule["name"] for rule in rules]).delete()
        start = (config.rules.order_by("-position").values_list("position", flat=True).first() or 0) + 1
        for offset, spec in enumerate(rules):
            rule = config.rules.filter(name=spec["name"]).first() or SyncRule(
                config=config, name=spec["name"], position=start + offset
            )
            if replace:
                rule.position = offset
            rule.entity_type = spec["entity_type"]
            rule.field = spec["field"]
            rule.condition = spec["condition"]
            rule.action = normalize_action(spec["action"])
            rule.full_clean(exclude=["config", "created_from"])
            rule.save()
    return list(config.rules.order_by("position", "id"))


def filters_would_drop(
    store: Store, *, entity_type: str, filters: list[dict[str, Any]], exclude_fields: list[str]
) -> bool:
    """Whether replacing an entity's filters and excluded fields removes one it has now (a delete)."""
    config = get_config(store)

    def key(field: str, operator: str, value) -> tuple[str, str, str]:
        return field, operator, json.dumps(value, sort_keys=True)

    kept = {key(spec["field"], spec["operator"], spec.get("value")) for spec in filters}
    if any(
        key(row.field, row.operator, row.value) not in kept for row in config.filters.filter(entity_type=entity_type)
    ):
        return True
    entity = config.entities.filter(entity_type=entity_type, enabled=True).first()
    return entity is not None and not set(entity.exclude_fields) <= set(exclude_fields)


def set_filters(
    store: Store, *, entity_type: str, filters: list[dict[str, Any]], exclude_fields: list[str]
) -> SyncEntity:
    """Replace an entity's filters and excluded fields."""
    config = get_config(store)
    with transaction.atomic():
        SyncConfig.objects.select_for_update().get(pk=config.pk)
        entity = config.entities.filter(entity_type=entity_type, enabled=True).first()
        if entity is None:
            message = f"{entity_type} is not configured for this store."
            raise InvalidSyncInput(message, {"entity_type": [message]})
        config.filters.filter(entity_type=entity_type).delete()
        for position, spec in enumerate(filters):
            row = SyncFilter(
                config=config,
                entity_type=entity_type,
                field=spec["field"],
                operator=spec["operator"],
                value=spec.get("value"),
                position=position,
            )
            row.full_clean(exclude=["config"])
            row.save()
        entity.exclude_fields = list(dict.fromkeys(exclude_fields))
        entity.save(update_fields=["exclude_fields"])
    return entity


# Jobs


def check_platform(store: Store) -> None:
    """The errors ``create_ecommerce_service`` raises, without building a client."""
    platform = (store.platform or "").strip().lower()
    if platform in NO_PLATFORM:
        raise PlatformNotConfigured("This store is not connected to an e-commerce platform.")
    if not store.platform_url:
        raise PlatformNotConfigured("This store has no shop URL configured.")
    if platform not in PLATFORMS:
        raise PlatformUnsupported(f"The platform {store.platform!r} is not supported.")


def trigger_sync(
    store: Store,
    *,
    entities: list[str] | None = None,
    sync_type: str = SyncType.INCREMENTAL,
    priority: str = Priority.NORMAL,
    options: dict[str, Any] | None = None,
    trigger: str = JobTrigger.API,
    user=None,
    records: dict[str, dict[str, list[int]]] | None = None,
    send: bool = True,
    mode: str = JobMode.SYNC,
    source_job: StoreSyncJob | None = None,
) -> StoreSyncJob:
    """Queue a sync job; it runs when the store's earlier jobs are done. ``mode``: a preview
    (nothing written, its plan recorded), an apply of ``source_job`` (a preview) or an undo of
    ``source_job``; the job is created with it, in one transaction."""
    options = {"force_full_sync": False, "validate_data": True, "resolve_conflicts": True, **(options or {})}
    if options["force_full_sync"] and sync_type != SyncType.RECORDS:
        sync_type = SyncType.FULL
    check_platform(store)  # a store without a shop fails here, clearly
    with transaction.atomic():
        config = SyncConfig.objects.select_for_update().filter(store=store).first()
        if config is None:
            raise SyncNotConfigured()
        if config.paused:
            raise SyncPaused()
        enabled = list(config.entities.filter(enabled=True).values_list("entity_type", flat=True))
        wanted = list(dict.fromkeys(entities)) if entities else enabled
        missing = [name for name in wanted if name not in enabled]
        if missing or not wanted:
            raise InvalidSyncInput(
                f"Not configured for this store: {', '.join(missing) or 'any entity'}.",
                {"entities": [f"Configured entities: {', '.join(enabled) or 'none'}."]},
            )
        waiting = StoreSyncJob.objects.filter(store=store, status=JobStatus.QUEUED).count()
        if waiting >= settings.STORESYNC_MAX_QUEUED_JOBS:
            raise QueueFull(f"{waiting} syncs are already waiting for this store.", {"queued_jobs": waiting})
        job = StoreSyncRunner.create(
            store=store, trigger=trigger, requested_by=user, params={"records": records} if records else {}
        )
        job.sync_type, job.priority, job.entities, job.options = sync_type, priority, wanted, options
        job.mode, job.source_job = mode, source_job
        job.entity_results = {name: new_entity_result() for name in wanted}
        job.save(update_fields=["sync_type", "priority", "entities", "options", "entity_results", "mode", "source_job"])
        if send:
            StoreSyncRunner.send(job)
    return job


def run_sync_now(store: Store, **kwargs) -> StoreSyncJob:
    """Queue a job and run it in this process (demo, tests, benchmarks, commands)."""
    kwargs.setdefault("trigger", JobTrigger.COMMAND)
    return run_inline(trigger_sync(store, send=False, **kwargs))


def apply_preview(
    preview: StoreSyncJob, *, user=None, trigger: str = JobTrigger.API, send: bool = True
) -> StoreSyncJob:
    """Queue the sync of a finished preview's records: each is written only where its merge
    still plans what the preview planned; the others are reported as changed since."""
    if preview.mode != JobMode.PREVIEW or preview.status not in (JobStatus.SUCCEEDED, JobStatus.PARTIAL):
        raise JobStateConflict("Only a finished preview can be applied.", {"status": preview.status})
    records: dict[str, dict[str, list[int]]] = {}
    rows = SyncChange.objects.filter(job=preview).values_list("entity_type", "record_pk", "shop_id", "side", "action")
    for entity, record_pk, shop_id, side, action in rows.distinct():
        wanted = records.setdefault(entity, {"record_pks": [], "shop_ids": []})
        if record_pk is not None:
            wanted["record_pks"].append(record_pk)
        elif shop_id is not None and (side, action) == (ChangeSide.PLATFORM, "create"):
            wanted["shop_ids"].append(shop_id)
    records = {name: {k: sorted(set(v)) for k, v in ids.items()} for name, ids in records.items()}
    if not records:
        raise JobStateConflict("The preview plans no change: there is nothing to apply.")
    return trigger_sync(
        preview.store,
        entities=[name for name in preview.entities if name in records],
        sync_type=SyncType.RECORDS,
        options=preview.options,
        trigger=trigger,
        user=user,
        records=records,
        send=send,
        mode=JobMode.APPLY,
        source_job=preview,
    )


def approve_job(job: StoreSyncJob, *, user=None, send: bool = True) -> StoreSyncJob:
    """A held job runs again, without the brake (its plan is dropped: the run records what it does)."""
    with transaction.atomic():
        config = SyncConfig.objects.select_for_update().filter(store_id=job.store_id).first()
        if config is None or config.paused:
            raise SyncPaused()
        row = StoreSyncJob.objects.select_for_update().get(pk=job.pk)
        if row.status != JobStatus.HELD:
            raise JobStateConflict("Only a held job can be approved.", {"status": row.status})
        SyncChange.objects.filter(job=row).delete()
        forget_progress(row)
        row.status, row.finished_at, row.started_at, row.result = JobStatus.QUEUED, None, None, {}
        row.options = {**row.options, "approved": True}
        row.message = f"Approved by {_who(user)}."
        row.save()
        if send:
            StoreSyncRunner.send(row)
    job.refresh_from_db()
    return job


def reject_job(job: StoreSyncJob, *, user=None) -> StoreSyncJob:
    """A held job ends cancelled: nothing is written."""
    with transaction.atomic():
        row = StoreSyncJob.objects.select_for_update().get(pk=job.pk)
        if row.status != JobStatus.HELD:
            raise JobStateConflict("Only a held job can be rejected.", {"status": row.status})
        StoreSyncRunner(row).finish(status=JobStatus.CANCELLED, message=f"Rejected by {_who(user)}.")
    job.refresh_from_db()
    return job


def _who(user) -> str:
    return user.get_username() if getattr(user, "pk", None) else "an operator"


def run_inline(job: StoreSyncJob) -> StoreSyncJob:
    """Run a queued job in this process, and read it back finished."""
    StoreSyncRunner.execute(job.pk, "inline")
    job.refresh_from_db()
    return job


def undo_job(source: StoreSyncJob, *, user=None, trigger: str = JobTrigger.API, send: bool = True) -> StoreSyncJob:
    """Queue a job that takes back ``source``'s writes (``storesync.engine.undo``), in the
    store's line like any sync: refused like a trigger when the store is paused."""
    if source.mode == JobMode.PREVIEW:
        raise JobNotUndoable("A preview writes nothing: there is nothing to undo.")
    if source.status not in UNDOABLE_STATUSES:
        raise JobNotFinished(f"The job is {source.status}: only a finished job can be undone.")
    written = sorted(set(source.changes.values_list("entity_type", flat=True))) or source.entities
    return trigger_sync(
        source.store,
        entities=written or None,
        trigger=trigger,
        user=user,
        send=send,
        mode=JobMode.UNDO,
        source_job=source,
    )


def run_undo_now(source: StoreSyncJob, **kwargs) -> StoreSyncJob:
    """Queue an undo and run it in this process (tests, commands)."""
    kwargs.setdefault("trigger", JobTrigger.COMMAND)
    return run_inline(undo_job(source, send=False, **kwargs))


# Pause and resume


def pause_sync(store: Store) -> tuple[SyncConfig, int]:
    """Stop syncing: waiting jobs are cancelled, a running one stops after its batch."""
    with transaction.atomic():
        config = SyncConfig.objects.select_for_update().filter(store=store).first()
        if config is None:
            raise SyncNotConfigured()
        if not config.paused:
            config.paused, config.paused_at = True, timezone.now()
            config.save(update_fields=["paused", "paused_at", "updated_at"])
        StoreSyncJob.objects.filter(store=store, status=JobStatus.RUNNING).update(cancel_requested=True)
        waiting = list(StoreSyncJob.objects.filter(store=store, status=JobStatus.QUEUED))
    for job in waiting:
        StoreSyncRunner(job).finish(status=JobStatus.CANCELLED, message=StoreSyncRunner.cancel_message)
    return config, len(waiting)


def resume_sync(store: Store) -> SyncConfig:
    """Sync again from the watermarks: nothing changed meanwhile is lost. A scheduled store
    is due at once (the dispatcher queues it within a minute)."""
    with transaction.atomic():
        config = SyncConfig.objects.select_for_update().filter(store=store).first()
        if config is None:
            raise SyncNotConfigured()
        if config.paused:
            config.paused, config.paused_at, config.last_scheduled_at = False, None, None
            config.save(update_fields=["paused", "paused_at", "last_scheduled_at", "updated_at"])
    sync_resumed.send(sender=SyncConfig, store=store, config=config)  # the webhooks wing releases held notifications
    return config


# Scheduling


def dispatch_due_syncs(now: datetime | None = None) -> dict[str, int]:
    """The beat task's work, every minute: queue the stores whose frequency says a sync is
    due, re-send lost messages of waiting jobs, fail jobs whose worker vanished."""
    now = now or timezone.now()
    stale = fail_stale_jobs(StoreSyncJob)
    queued = 0
    configs = (
        SyncConfig.objects.filter(paused=False, store__is_active=True)
        .exclude(sync_frequency=Frequency.MANUAL)
        .select_related("store")
    )
    for config in configs:
        interval = FREQUENCY_INTERVALS.get(config.sync_frequency)
        last = config.last_scheduled_at
        if interval is None or (last and now < last + interval - DISPATCH_TOLERANCE):
            continue
        if StoreSyncJob.objects.filter(store=config.store, status=JobStatus.QUEUED).exists():
            continue  # one is already waiting
        claimed = SyncConfig.objects.filter(pk=config.pk, last_scheduled_at=config.last_scheduled_at).update(
            last_scheduled_at=now
        )
        if not claimed:
            continue
        try:
            trigger_sync(config.store, sync_type=_scheduled_type(config, now), trigger=JobTrigger.SCHEDULE)
        except Exception as exc:  # one store's trouble must not stop the others
            logger.warning("could not queue the scheduled sync of store %s: %s", config.store_id, exc)
            continue
        queued += 1
    kicked = 0
    cutoff = now - timedelta(seconds=settings.STORESYNC_KICK_AFTER)
    waiting_stores = set(
        StoreSyncJob.objects.filter(status=JobStatus.QUEUED, heartbeat_at__lt=cutoff).values_list("store_id", flat=True)
    )
    for store_id in waiting_stores:
        if StoreSyncRunner.kick_next(store_id) is not None:
            kicked += 1
    return {"queued": queued, "kicked": kicked, "stale_failed": stale}


def sweep_deletes() -> dict[str, int]:
    """The daily beat task's work: for each scheduled store (not paused, not ``manual``) whose
    entities propagate deletes, queue a low-priority incremental sync of those entities that
    sweeps the shop's ids (option ``sweep_deletes``), so records deleted in the shop are seen
    between full syncs."""
    queued = 0
    configs = (
        SyncConfig.objects.filter(paused=False, store__is_active=True)
        .exclude(sync_frequency=Frequency.MANUAL)
        .select_related("store")
    )
    for config in configs:
        entities = list(
            config.entities.filter(enabled=True)
            .exclude(delete_policy=DeletePolicy.IGNORE)
            .values_list("entity_type", flat=True)
        )
        if not entities:
            continue
        try:
            trigger_sync(
                config.store,
                entities=entities,
                priority=Priority.LOW,
                options={"sweep_deletes": True},
                trigger=JobTrigger.SCHEDULE,
            )
        except Exception as exc:  # one store's trouble must not stop the others
            logger.warning("could not queue the delete sweep of store %s: %s", config.store_id, exc)
            continue
        queued += 1
    return {"queued": queued}


def _scheduled_type(config: SyncConfig, now: datetime) -> str:
    """Incremental, or full when the last full sync is older than STORESYNC_FULL_SYNC_HOURS:
    some shop changes (stock moves) do not touch a product's date_upd."""
    hours = settings.STORESYNC_FULL_SYNC_HOURS
    if not hours:
        return SyncType.INCREMENTAL
    cutoff = now - timedelta(hours=hours)
    for entity in config.entities.filter(enabled=True):
        if entity.last_sync_at and (entity.last_full_sync_at is None or entity.last_full_sync_at < cutoff):
            return SyncType.FULL
    return SyncType.INCREMENTAL


# Dead letters


def requeue_dead_letters(dead_letters: Iterable[DeadLetter], *, user=None) -> list[StoreSyncJob]:
    """Sync the owed letters' records again, one high-priority job per store. The letters are
    marked ``requeued`` in the transaction that queues the job (its message leaves on commit), so
    the job's outcome is the last word: resolved, or pending again with the new error."""
    with transaction.atomic():
        letters = DeadLetter.objects.owed().select_for_update().filter(pk__in=[letter.pk for letter in dead_letters])
        by_store: dict[int, list[DeadLetter]] = defaultdict(list)
        for letter in letters.order_by("pk"):
            by_store[letter.store_id].append(letter)
        jobs = []
        for store_id, owed in by_store.items():
            records: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"record_pks": [], "shop_ids": []})
            for letter in owed:
                if letter.record_pk is not None:
                    records[letter.entity_type]["record_pks"].append(letter.record_pk)
                elif letter.shop_id is not None:
                    records[letter.entity_type]["shop_ids"].append(letter.shop_id)
            job = trigger_sync(
                Store.objects.get(pk=store_id),
                entities=sorted(records),
                sync_type=SyncType.RECORDS,
                priority=Priority.HIGH,
                trigger=JobTrigger.ADMIN,
                user=user,
                records=dict(records),
            )
            DeadLetter.objects.filter(pk__in=[letter.pk for letter in owed]).update(
                status=DeadLetterStatus.REQUEUED, requeue_job=job, updated_at=timezone.now()
            )
            jobs.append(job)
    return jobs


def drop_dead_letters(dead_letters: Iterable[DeadLetter]) -> int:
    """Stop owing the letters' changes (an operator's decision): no sync reads them again."""
    return (
        DeadLetter.objects.owed()
        .filter(pk__in=[letter.pk for letter in dead_letters])
        .update(status=DeadLetterStatus.DROPPED, updated_at=timezone.now())
    )
