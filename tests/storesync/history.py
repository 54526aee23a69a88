"""A known sync history for the metrics and alert tests: finished jobs, conflicts, records in
sync (some drifted) and webhook deliveries, written as the engine and the webhooks write them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.utils import timezone

from catalog.models import Product
from storesync.models import StoreSyncJob, SyncConflict, SyncRecordState
from storesync.webhooks.models import WebhookAttempt, WebhookDelivery


def finished_job(store, status: str, seconds: float, *, ago: timedelta = timedelta(minutes=5), now=None):
    end = (now or timezone.now()) - ago
    return StoreSyncJob.objects.create(
        kind="store_sync",
        store=store,
        lock_key=f"store_sync:{store.pk}:{uuid.uuid4().hex}",
        status=status,
        started_at=end - timedelta(seconds=seconds),
        finished_at=end,
        items_processed=10,
        entities=["products"],
    )


def conflicts(
    store, count: int, *, ago: timedelta = timedelta(minutes=5), status: str = "resolved", first_pk: int = 1000
):
    rows = [
        SyncConflict(
            store=store,
            entity_type="products",
            record_pk=first_pk + n,
            field="price",
            store_value="1",
            platform_value="2",
            status=status,
        )
        for n in range(count)
    ]
    SyncConflict.objects.bulk_create(rows)
    SyncConflict.objects.filter(pk__in=[r.pk for r in rows]).update(created_at=timezone.now() - ago)
    return rows


def records_in_sync(store, count: int) -> list[Product]:
    """``count`` platform products whose sync state says both sides agree."""
    products = [Product.objects.create(store=store, name=f"P{n}", price=n + 1, id_origin=n + 1) for n in range(count)]
    SyncRecordState.objects.bulk_create(
        [
            SyncRecordState(
                store=store,
                entity_type="products",
                record_pk=p.pk,
                shop_id=p.id_origin,
                base={},
                platform_modified=p.updated_at,
                synced_at=timezone.now(),
            )
            for p in products
        ]
    )
    return products


def drift_one(product: Product) -> None:
    """A platform change the sync has not carried yet (updated_at moves, no save signal)."""
    Product.objects.filter(pk=product.pk).update(price=999, updated_at=timezone.now() + timedelta(seconds=1))


def deliveries(store, *, succeeded=0, dead=0, pending=0):
    for status, count in (("succeeded", succeeded), ("dead", dead), ("pending", pending)):
        for _ in range(count):
            WebhookDelivery.objects.create(
                msg_id=f"msg_{uuid.uuid4().hex}", store=store, event_type="x.y", payload={}, status=status
            )


def attempts(store, outcomes: list[bool]):
    """Attempts to the store's endpoint, oldest first."""
    delivery = WebhookDelivery.objects.create(
        msg_id=f"msg_{uuid.uuid4().hex}", store=store, event_type="x.y", payload={}
    )
    start = timezone.now() - timedelta(minutes=len(outcomes))
    for number, ok in enumerate(outcomes, 1):
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            url="http://127.0.0.1/x",
            attempted_at=start + timedelta(minutes=number),
            status_code=200 if ok else 500,
            success=ok,
        )
