"""Store sync benchmark: 50,000 products on the shop simulator.

Prints, in one run:
- the project's full sync of the products into an empty platform (``storesync.services.run_sync_now``:
  the job row, the shop read by keyset on ``(date_upd, id)`` in pages of 100, the three-way merge of
  every record, the platform rows and the sync state written in bulk, per batch of 500, with
  the job's progress and checkpoint);
- the baseline: the same records fetched from the simulator with the same batching (the
  connector's ``iter_products``, keyset pages of 100) and bulk-inserted into the same table, in the
  same batches of 500, with no sync logic;
- their ratio (target: at most 2x);
- an incremental sync after 1% of the records changed on each side (500 prices in the shop;
  500 products on the platform: 400 titles, and the price of 100 of the products also changed
  in the shop, so 100 conflicts), its time against the full sync's (target: at most 5%), and
  its outcome against the exact expectation: 900 records updated, 500 shop writes, 100
  conflicts settled by ``last_write_wins`` (the platform's edits are the later ones), no
  record created.

The simulator runs in its own process (a shop is another machine). The hub runs on
PostgreSQL (database ``hub_bench_storesync``, recreated; ``BENCH_DATABASE_URL``), in this
process, as ``run_sync_now`` does.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import recreate_postgres_database, start_simulator

PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "50000"))
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_storesync")
CHANGED = PRODUCTS // 100  # 1% on each side
CONFLICTS = CHANGED // 5  # of the platform's changes, on products also changed in the shop


def _configure() -> None:
    recreate_postgres_database(PG_URL)
    workdir = tempfile.mkdtemp(prefix="bench-storesync-")
    for variable in ("REDIS_URL", "CELERY_BROKER_URL", "AWS_STORAGE_BUCKET_NAME"):
        os.environ.pop(variable, None)
    os.environ.update(
        DATABASE_URL=PG_URL,
        VAR_DIR=workdir,
        LOG_LEVEL="WARNING",
        PLATFORM_URL_ALLOWLIST="127.0.0.1",
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY=uuid.uuid4().hex * 2,
        SECURE_SSL_REDIRECT="false",
        CELERY_TASK_ALWAYS_EAGER="true",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _baseline(store) -> float:
    """Fetch every product with the connector's batching and bulk-insert it: no sync logic."""
    from catalog.models import Product
    from catalog.platforms import create_ecommerce_service
    from catalog.services import product_values
    from storesync.engine.scanning import chunks

    started = time.perf_counter()
    with create_ecommerce_service(store) as service:
        for batch in chunks(service.iter_products(page_size=100), 500):
            Product.objects.bulk_create(
                [Product(store=store, id_origin=remote.id, **product_values(remote)) for remote in batch]
            )
    return time.perf_counter() - started


def _change_both_sides(store, url: str) -> None:
    import httpx
    from django.utils import timezone

    from catalog.models import Product

    rng = random.Random(7)
    ids = rng.sample(range(1, PRODUCTS + 1), CHANGED * 2 - CONFLICTS)
    shop_ids, platform_only = ids[:CHANGED], ids[CHANGED:]
    both = shop_ids[:CONFLICTS]
    httpx.post(f"{url}/_sim/mutate", json={"products": shop_ids}, timeout=120).raise_for_status()  # new prices
    time.sleep(1.1)  # the platform's edits are the later ones, in a later second
    now = timezone.now()
    products = {p.id_origin: p for p in Product.objects.filter(store=store, id_origin__in=both + platform_only)}
    for shop_id in both:
        products[shop_id].price = products[shop_id].price + 1
    for shop_id in platform_only:
        products[shop_id].name = f"{products[shop_id].name} (new)"
    for product in products.values():
        product.updated_at = now
    Product.objects.bulk_update(list(products.values()), ["price", "name", "updated_at"], batch_size=500)


def main() -> None:
    _configure()
    simulator, url = start_simulator(PRODUCTS)
    try:
        import httpx

        from catalog.models import Store
        from shopsim import DEMO_API_KEY
        from storesync import services

        def store(code):
            return Store.objects.create(
                code=code, name=code, platform="prestashop", platform_url=url, platform_api_key=DEMO_API_KEY
            )

        synced, plain = store("bench-sync"), store("bench-baseline")
        services.configure_sync(
            synced,
            sync_frequency="manual",
            entities=[{"type": "products", "direction": "bidirectional", "conflict_resolution": "last_write_wins"}],
        )

        print(f"Store sync benchmark: {PRODUCTS:,} products, simulator in its own process, PostgreSQL")
        baseline = _baseline(plain)
        print(f"  baseline (fetch + bulk insert, no sync logic): {baseline:8.2f} s")
        started = time.perf_counter()
        full = services.run_sync_now(synced, sync_type="full")
        full_time = time.perf_counter() - started
        created = full.entity_results["products"]["records_created"]
        print(
            f"  full sync:                                    {full_time:8.2f} s  "
            f"({created:,} created, status {full.status})"
        )
        ratio = full_time / baseline
        print(
            f"  ratio full / baseline:                        {ratio:8.2f} x  (target <= 2x)  "
            f"{'OK' if ratio <= 2 else 'MISSED'}"
        )

        _change_both_sides(synced, url)
        httpx.post(f"{url}/_sim/reset_stats", timeout=30)
        started = time.perf_counter()
        incremental = services.run_sync_now(synced)
        incremental_time = time.perf_counter() - started
        results = incremental.entity_results["products"]
        stats = httpx.get(f"{url}/_sim/stats", timeout=30).json()
        writes, requests = stats.get("product_put", 0), stats.get("total", 0)
        share = 100 * incremental_time / full_time
        print(
            f"  incremental sync after 1% changed per side:   {incremental_time:8.2f} s  "
            f"= {share:.1f}% of the full sync (target <= 5%)  {'OK' if share <= 5 else 'MISSED'}"
        )
        expected = {
            "records_updated": 2 * CHANGED - CONFLICTS,
            "records_created": 0,
            "conflicts_resolved": CONFLICTS,
            "conflicts_pending": 0,
            "errors": 0,
        }
        got = {key: results[key] for key in expected}
        print(
            f"    records read: {results['records_synced']:,}; shop writes: {writes} "
            f"({requests:,} shop requests in all); outcome: {got}"
        )
        exact = got == expected and writes == CHANGED and created == PRODUCTS and incremental.status == "succeeded"
        print(f"    exactly the expected updates and conflicts: {'yes' if exact else 'NO: expected ' + str(expected)}")
        if not exact:
            raise SystemExit(1)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)


if __name__ == "__main__":
    main()
