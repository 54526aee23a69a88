"""Inbound webhooks: a store's signed change notification becomes a record-level sync.

``POST /api/v1/webhooks/{store}/{entity}`` (the ``webhook_urls`` of the configuration).
The signature is checked first (Standard Webhooks, the store's configured secret,
``STORESYNC_WEBHOOK_TOLERANCE``), then the body, then the id: a notification id is accepted
once per store (a unique row), so a replay is refused. A valid notification queues a
``records`` sync of the ids it names, merged into the store's waiting webhook job when
there is one (a burst of notifications makes one job, not one each); while the store is
paused it is held and applied on resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.api import parsers
from config.jobs import JobStatus, JobTrigger
from storesync.constants import EntityType, Priority, SyncType
from storesync.engine.batch import new_entity_result
from storesync.exceptions import InvalidSyncInput, WebhookRejected, WebhookReplayed
from storesync.models import StoreSyncJob, SyncConfig
from storesync.services import trigger_sync
from storesync.webhooks.models import InboundStatus, InboundWebhook
from storesync.webhooks.signatures import SignatureInvalid, verify

ACTIONS = ("created", "updated", "deleted")
MAX_IDS = 1000


def receive(
    store, entity_type: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> InboundWebhook:
    """Check and apply one notification; raises a SyncError for the API's error envelope."""
    if entity_type not in {e.value for e in EntityType}:
        raise InvalidSyncInput(f"Unknown entity type {entity_type!r}.", {"entity": [e.value for e in EntityType]})
    with transaction.atomic():
        # The lock orders a store's notifications: two of them never both start a job.
        config = SyncConfig.objects.select_for_update().filter(store=store).first()
        if config is None or not config.webhook_secret:
            raise WebhookRejected("This store has no webhook secret configured; notifications cannot be verified.")
        try:
            signed = verify(
                config.webhook_secret, headers, body, tolerance=settings.STORESYNC_WEBHOOK_TOLERANCE, now=now
            )
        except SignatureInvalid as exc:
            raise WebhookRejected(str(exc)) from None
        event_type, ids = parse_body(body, entity_type)
        if not config.entities.filter(entity_type=entity_type, enabled=True).exists():
            raise InvalidSyncInput(f"{entity_type} is not configured for this store.")
        try:
            with transaction.atomic():  # the id's row and the job's change stand or fall together
                job = None if config.paused else queue_records(store, entity_type, ids)
                notification = InboundWebhook.objects.create(
                    store=store,
                    webhook_id=signed.msg_id,
                    entity_type=entity_type,
                    event_type=event_type,
                    record_ids=ids,
                    sent_at=datetime.fromtimestamp(signed.timestamp, UTC),
                    job=job,
                    status=InboundStatus.HELD if config.paused else InboundStatus.QUEUED,
                )
        except IntegrityError:
            raise WebhookReplayed(f"The notification {signed.msg_id} was already received.") from None
    return notification


def parse_body(body: bytes, entity_type: str) -> tuple[str, list[int]]:
    """``{"type": "<entity>.<action>", "timestamp": …, "data": {"ids": [..]}}``."""
    try:
        payload = parsers.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidSyncInput("The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise InvalidSyncInput("The body must be a JSON object with type, timestamp and data.")
    event_type = payload.get("type")
    expected = [f"{entity_type}.{action}" for action in ACTIONS]
    if event_type not in expected:
        raise InvalidSyncInput(f"type must be one of {', '.join(expected)}.", {"type": expected})
    data = payload.get("data")
    ids = data.get("ids") if isinstance(data, dict) else None
    if (
        not isinstance(ids, list)
        or not ids
        or len(ids) > MAX_IDS
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids)
    ):
        raise InvalidSyncInput(
            f"data.ids must list 1 to {MAX_IDS} positive integer ids of the shop's records.",
            {"data": {"ids": ["A list of the records' ids in the shop."]}},
        )
    return event_type, sorted(set(ids))


def queue_records(store, entity_type: str, ids: list[int]) -> StoreSyncJob:
    """Add the ids to the store's waiting webhook job, or queue one (high priority)."""
    waiting = (
        StoreSyncJob.objects.select_for_update()
        .filter(store=store, status=JobStatus.QUEUED, trigger=JobTrigger.WEBHOOK, sync_type=SyncType.RECORDS)
        .order_by("created_at")
        .first()
    )
    if waiting is None:
        return trigger_sync(
            store,
            entities=[entity_type],
            sync_type=SyncType.RECORDS,
            priority=Priority.HIGH,
            trigger=JobTrigger.WEBHOOK,
            records={entity_type: {"record_pks": [], "shop_ids": ids}},
        )
    records = waiting.params.setdefault("records", {})
    wanted = records.setdefault(entity_type, {"record_pks": [], "shop_ids": []})
    wanted["shop_ids"] = sorted(set(wanted.get("shop_ids", [])) | set(ids))
    if entity_type not in waiting.entities:
        waiting.entities = [*waiting.entities, entity_type]
        waiting.entity_results[entity_type] = new_entity_result()
    waiting.save(update_fields=["params", "entities", "entity_results"])
    return waiting


def release_held(store) -> StoreSyncJob | None:
    """After a resume: one job for every notification kept while the store was paused."""
    job = None
    with transaction.atomic():
        held = list(InboundWebhook.objects.select_for_update().filter(store=store, status=InboundStatus.HELD))
        by_entity: dict[str, set[int]] = {}
        for notification in held:
            by_entity.setdefault(notification.entity_type, set()).update(notification.record_ids)
        for entity_type, ids in by_entity.items():
            try:
                job = queue_records(store, entity_type, sorted(ids))
            except InvalidSyncInput:
                continue  # the entity was unconfigured meanwhile
        InboundWebhook.objects.filter(pk__in=[n.pk for n in held]).update(status=InboundStatus.APPLIED, job=job)
    return job


def response(notification: InboundWebhook) -> dict:
    return {
        "webhook_id": notification.webhook_id,
        "status": notification.status,
        "entity_type": notification.entity_type,
        "records": len(notification.record_ids),
        "sync_job_id": str(notification.job_id) if notification.job_id else None,
        "received_at": (notification.received_at or timezone.now()).isoformat(),
    }
