"""Outbound webhooks: signed events posted to a store's endpoint, retried from the database.

A delivery is a row before it is a request. Its ``msg_id`` is the ``webhook-id`` of every
attempt; each attempt is a row (status code, latency, error). A failed attempt sets
``next_attempt_at`` (exponential backoff x4 from ``STORESYNC_WEBHOOK_BACKOFF``, with
jitter, or the endpoint's ``Retry-After`` if later); the beat task picks due deliveries up
every minute. No Celery countdown is ever used, so no retry can outlive the broker's
visibility timeout. 3xx and 4xx answers other than 408 and 429 are final; a delivery that
still fails after ``STORESYNC_WEBHOOK_MAX_ATTEMPTS`` attempts is a dead letter, which an
operator can redeliver from the admin. An attempt ends by ``STORESYNC_WEBHOOK_TIMEOUT``
whatever the receiver does, and runs on the webhooks queue (``CELERY_OWN_QUEUES``), never
on a worker that syncs.

An attempt first takes a lease (``lease_token``, ``next_attempt_at`` moved to the end of
the lease) with a conditional UPDATE, so two workers never post the same delivery at once,
and a worker that dies mid-attempt only delays it by the lease.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.platforms import guarded_client
from config.jobs import celery_task
from config.jobs.backoff import backoff_delay
from storesync.constants import Direction
from storesync.engine.entities import ADAPTERS, InvalidValue
from storesync.models import SyncConfig, SyncEntity
from storesync.presenters import FINISHED_EVENTS, display_value, job_summary, seconds_text
from storesync.task_names import DELIVER_WEBHOOK
from storesync.webhooks.models import DeliveryStatus, DeliveryTarget, WebhookAttempt, WebhookDelivery
from storesync.webhooks.signatures import new_message_id, sign_headers

logger = logging.getLogger(__name__)

RETRYABLE_4XX = frozenset({408, 429})


def envelope(event_type: str, data: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    return {"type": event_type, "timestamp": (now or timezone.now()).isoformat(), "data": data}


def _endpoint(delivery: WebhookDelivery) -> tuple[str, str]:
    """(url, secret) of the delivery's target now: an operator's fix applies to retries."""
    if delivery.target == DeliveryTarget.ALERTS:
        return settings.STORESYNC_ALERT_WEBHOOK_URL, settings.STORESYNC_ALERT_WEBHOOK_SECRET
    config = SyncConfig.objects.filter(store_id=delivery.store_id).only("webhook_endpoint", "webhook_secret").first()
    return (config.webhook_endpoint, config.webhook_secret) if config else ("", "")


# Creating deliveries


def queue_event(
    *, store=None, event_type: str, data: dict[str, Any], event_key: str = "", target: str = DeliveryTarget.STORE
) -> WebhookDelivery | None:
    """Record a delivery and send its first attempt once the transaction commits. None when
    the target has no endpoint, or the event (``event_key``) was queued before."""
    if target == DeliveryTarget.STORE:
        url = _endpoint(WebhookDelivery(store=store, target=target))[0]
    else:
        url = settings.STORESYNC_ALERT_WEBHOOK_URL
    if not url:
        return None
    now = timezone.now()
    token = uuid.uuid4().hex
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                msg_id=new_message_id(),
                store=store,
                target=target,
                event_type=event_type,
                event_key=event_key,
                payload=envelope(event_type, data, now),
                next_attempt_at=now + lease(),
                lease_token=token,
            )
    except IntegrityError:
        return None  # this event was queued already (another process saw the same change)
    _send(delivery.pk, token)
    return delivery


def _send(delivery_id, token: str) -> None:
    transaction.on_commit(lambda: celery_task(DELIVER_WEBHOOK).delay(str(delivery_id), token))


def lease() -> timedelta:
    return timedelta(seconds=settings.STORESYNC_WEBHOOK_LEASE)


def job_finished(job) -> WebhookDelivery | None:
    """``sync.completed`` / ``sync.failed`` for a store sync that ended."""
    event, status = FINISHED_EVENTS[job.status]
    data = {
        "sync_id": str(job.pk),
        "store_id": job.store_id,
        "status": status,
        "sync_type": job.sync_type,
        "entities": list(job.entities),
        "duration": seconds_text(job.duration),
        "records_synced": job.items_processed,
        "summary": job_summary(job),
        "message": job.message,
    }
    name = "sync.completed" if event == "sync_completed" else "sync.failed"
    return queue_event(store=job.store, event_type=name, data=data, event_key=f"job:{job.pk}:finished")


def job_held(job) -> WebhookDelivery | None:
    """``sync.held``: a store sync stopped by the mass-change brake before its first write."""
    data = {
        "sync_id": str(job.pk),
        "store_id": job.store_id,
        "status": "held",
        "sync_type": job.sync_type,
        "entities": list(job.entities),
        "preview": (job.result or {}).get("preview") or {},
        "message": job.message,
    }
    return queue_event(store=job.store, event_type="sync.held", data=data, event_key=f"job:{job.pk}:held")


def record_changed(instance, created: bool) -> WebhookDelivery | None:
    """``{entity}.created|updated`` when the platform side changes a record that syncs to the store."""
    entity_type = {"product": "products", "customer": "customers", "order": "orders"}[instance._meta.model_name]
    entity = (
        SyncEntity.objects.filter(config__store_id=instance.store_id, entity_type=entity_type, enabled=True)
        .exclude(config__webhook_endpoint="")
        .select_related("config__store")
        .first()
    )
    if entity is None or entity.direction == Direction.TO_PLATFORM:
        return None
    try:
        values = ADAPTERS[entity_type].platform_values(instance)
    except InvalidValue:
        return None
    fields = entity.effective_fields
    data = {
        "id": instance.pk,
        "store_entity_id": instance.id_origin,
        **{name: _jsonable(display_value(name, values[name])) for name in fields if name in values},
    }
    suffix = "created" if created else "updated"
    return queue_event(store=entity.config.store, event_type=f"{entity_type}.{suffix}", data=data)


def _jsonable(value):
    return value if isinstance(value, (str, int, float, bool, dict, list, type(None))) else str(value)


# Attempts


def claim(delivery_id, token: str | None, now: datetime) -> WebhookDelivery | None:
    """The delivery, leased to this attempt; None when another attempt holds it or it is done.
    With ``token``, only the holder of that lease may attempt (the message sent with it)."""
    rows = WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
    if token:
        rows = rows.filter(lease_token=token)
    else:
        rows = rows.filter(next_attempt_at__lte=now)
        token = uuid.uuid4().hex
    if not rows.update(lease_token=token, next_attempt_at=now + lease()):
        return None
    return WebhookDelivery.objects.get(pk=delivery_id)


def attempt(delivery_id, token: str | None = None, *, now: datetime | None = None) -> WebhookDelivery | None:
    """Post the delivery once and record the outcome."""
    now = now or timezone.now()
    delivery = claim(delivery_id, token, now)
    if delivery is None:
        return None
    url, secret = _endpoint(delivery)
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    number = delivery.attempt_rows.count() + 1
    code, error, text, retry_after = None, "", "", None
    started = time.monotonic()
    if not url:
        error = "No webhook endpoint is configured."
    else:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "retail-sync-hub-webhooks/1",
            **sign_headers(secret, delivery.msg_id, body, timestamp=int(time.time())),
        }
        try:
            # STORESYNC_WEBHOOK_TIMEOUT bounds the whole attempt (connect, headers, body), not each read.
            deadline = started + settings.STORESYNC_WEBHOOK_TIMEOUT
            with (
                guarded_client(
                    timeout=settings.STORESYNC_WEBHOOK_TIMEOUT, deadline=deadline, follow_redirects=False
                ) as client,
                client.stream("POST", url, content=body, headers=headers) as response,
            ):
                code = response.status_code
                retry_after = _retry_after(response.headers.get("retry-after"), now)
                text = _head(response)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
    latency = int((time.monotonic() - started) * 1000)
    ok = code is not None and 200 <= code < 300
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=number,
        url=url[:500],
        attempted_at=now,
        status_code=code,
        latency_ms=latency,
        error=error,
        response_body=text,
        success=ok,
    )
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_error, delivery.lease_token = (
        code,
        error or ("" if ok else f"HTTP {code}"),
        "",
    )
    if ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, now, None
    elif (
        not url
        or (code is not None and 300 <= code < 500 and code not in RETRYABLE_4XX)
        or (delivery.attempts >= settings.STORESYNC_WEBHOOK_MAX_ATTEMPTS)
    ):
        delivery.status, delivery.next_attempt_at = DeliveryStatus.DEAD, None
        logger.warning("webhook %s to %s is a dead letter: %s", delivery.msg_id, url, delivery.last_error)
    else:
        delivery.next_attempt_at = now + max(backoff(delivery.attempts), retry_after or timedelta(0))
    delivery.save(
        update_fields=[
            "attempts",
            "last_status_code",
            "last_error",
            "lease_token",
            "status",
            "delivered_at",
            "next_attempt_at",
            "updated_at",
        ]
    )
    return delivery


def _head(response, limit: int = 500) -> str:
    """The first ``limit`` bytes of the answer: an endpoint's body is never read whole."""
    head = b""
    for chunk in response.iter_bytes():
        head += chunk
        if len(head) >= limit:
            break
    return head[:limit].decode("utf-8", errors="replace")


def backoff(attempts: int) -> timedelta:
    """Delay after the ``attempts``-th failure: base x 4^(n-1), +-20% jitter (5 attempts: ~7 h)."""
    seconds = backoff_delay(attempts, base=settings.STORESYNC_WEBHOOK_BACKOFF, factor=4.0, jitter=(0.8, 1.2))
    return timedelta(seconds=seconds)


def _retry_after(value: str | None, now: datetime) -> timedelta | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = int(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return None
    return timedelta(seconds=max(0, min(seconds, settings.STORESYNC_WEBHOOK_MAX_RETRY_AFTER)))


def dispatch_due(now: datetime | None = None) -> int:
    """The beat task's work: lease every due delivery and send a task for its attempt."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    count = 0
    for delivery_id in list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:1000]):
        token = uuid.uuid4().hex
        leased = WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).update(lease_token=token, next_attempt_at=now + lease())
        if leased:
            _send(delivery_id, token)
            count += 1
    return count


def redeliver(deliveries, *, now: datetime | None = None) -> int:
    """An operator's redelivery: a new round of attempts under the same delivery id."""
    now = now or timezone.now()
    count = 0
    for delivery in deliveries:
        token = uuid.uuid4().hex
        updated = (
            WebhookDelivery.objects.filter(pk=delivery.pk)
            .exclude(status=DeliveryStatus.PENDING)
            .update(
                status=DeliveryStatus.PENDING,
                attempts=0,
                lease_token=token,
                next_attempt_at=now + lease(),
                updated_at=now,
            )
        )
        if updated:
            _send(delivery.pk, token)
            count += 1
    return count
