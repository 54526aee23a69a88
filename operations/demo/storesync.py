"""The demo's store sync (``manage.py demo_setup``): configure the demo store, sync it, change
records on both sides (the shop through the simulator's control API over HTTP, the
catalogue through the ORM), and sync again to show updates and a pending conflict."""

from __future__ import annotations

import httpx

from catalog.models import Product, Store
from storesync import services
from storesync.models import StoreSyncJob, SyncConflict


def run_demo(store: Store, shop_url: str) -> tuple[StoreSyncJob, list[SyncConflict]]:
    services.configure_sync(
        store,
        sync_frequency="medium",
        entities=[
            {"type": "products", "direction": "bidirectional", "conflict_resolution": "last_write_wins"},
            {"type": "customers", "direction": "bidirectional"},
            {"type": "orders", "direction": "to_platform"},
        ],
    )
    # Prices need an operator's eye when both sides change them.
    services.set_rules(
        store,
        [
            {
                "name": "demo_price_needs_review",
                "entity_type": "products",
                "field": "price",
                "condition": "conflict_detected",
                "action": "manual_resolution",
            }
        ],
    )
    services.run_sync_now(store, sync_type="full")

    shop_ids = list(
        Product.objects.filter(store=store, id_origin__isnull=False)
        .order_by("id_origin")
        .values_list("id_origin", flat=True)[:3]
    )
    first, second, third = shop_ids
    mutate = f"{shop_url.rstrip('/')}/_sim/mutate"
    httpx.post(mutate, json={"products": [first], "fields": {"name": "Renamed in the shop"}}, timeout=30)
    httpx.post(mutate, json={"products": [second], "fields": {"price": "19.990000"}}, timeout=30)
    for shop_id, values in ((third, {"name": "Renamed on the platform"}), (second, {"price": "17.500000"})):
        product = Product.objects.get(store=store, id_origin=shop_id)
        for name, value in values.items():
            setattr(product, name, value)
        product.save()

    job = services.run_sync_now(store)
    return job, list(SyncConflict.objects.filter(store=store, status="pending"))
