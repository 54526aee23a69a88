"""Delete sweep benchmark: the reconciliation sweep of the shop's ids against a full sync of the
same catalogue and against a raw-HTTP floor of the same id pages.

``BENCH_PRODUCTS`` products (50,000 by default) on the shop simulator, in its own process; the
hub on PostgreSQL (database ``hub_bench_deletes``, recreated; ``BENCH_DATABASE_URL``), in this
process. For each of ``BENCH_ROUNDS`` rounds (3 by default):

- **full sync** of the products into an empty store (policy ``ignore``: it does not sweep);
- 0.1% of the products deleted in the shop (the simulator's control API);
- **raw floor**: the sweep's requests with nothing else: pages of 1,000 ids
  (``display=[id]``, ``filter[id]=>[last]``, ``sort=[id_ASC]``), fetched and parsed with httpx;
- **sweep**: ``storesync.engine.deletes.gone_from_shop`` through the connector, comparing each
  page with the sync state: it must find exactly the deleted products, and the shop must have
  served only ids (the simulator's rows served equal the ids it still has, no record read by id).

The target: a sweep of 50,000 ids takes at most 20% of a full sync. Every figure is printed
with the load average, and the medians at the end.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench.store_sync as store_bench
from bench.store_sync import _configure as configure_hub
from bench.store_sync import load
from bench.support import start_simulator

PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "50000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_deletes")
DELETED = max(1, PRODUCTS // 1000)


def raw_floor(url: str, api_key: str, page_size: int) -> tuple[float, int]:
    """The sweep's pages of ids, fetched and parsed with nothing else."""
    import httpx

    started, read, after = time.perf_counter(), 0, None
    with httpx.Client(base_url=f"{url}/api/", auth=(api_key, ""), timeout=120) as client:
        while True:
            params = {"output_format": "JSON", "display": "[id]", "sort": "[id_ASC]", "limit": f"0,{page_size}"}
            if after is not None:
                params["filter[id]"] = f">[{after}]"
            rows = client.get("products", params=params).json()
            ids = [int(row["id"]) for row in (rows or {}).get("products", [])]
            read += len(ids)
            if ids:
                after = ids[-1]
            if len(ids) < page_size:
                return time.perf_counter() - started, read


def main() -> None:
    store_bench.PG_URL = os.environ["BENCH_DATABASE_URL"]  # its database, not the store sync bench's
    configure_hub()
    simulator, url = start_simulator(PRODUCTS)
    try:
        import httpx

        from catalog.models import Store
        from catalog.platforms import create_ecommerce_service
        from shopsim import DEMO_API_KEY
        from storesync import services
        from storesync.engine.deletes import SWEEP_PAGE_SIZE, gone_from_shop
        from storesync.engine.entities import ADAPTERS

        print(f"Delete sweep benchmark: {PRODUCTS:,} products, simulator in its own process, PostgreSQL; {load()}")
        figures: dict[str, list[float]] = {"full": [], "floor": [], "sweep": []}
        exact, rng = True, random.Random(11)
        remaining = set(range(1, PRODUCTS + 1))
        for round_number in range(1, ROUNDS + 1):
            store = Store.objects.create(
                code=f"bench-deletes-{round_number}",
                name="bench",
                platform="prestashop",
                platform_url=url,
                platform_api_key=DEMO_API_KEY,
            )
            services.configure_sync(store, sync_frequency="manual", entities=[{"type": "products"}])
            started = time.perf_counter()
            full = services.run_sync_now(store, sync_type="full")
            full_time = time.perf_counter() - started
            if full.status != "succeeded":
                raise SystemExit(f"the full sync ended {full.status}: {full.message}")
            figures["full"].append(full_time)
            print(f"  round {round_number}: full sync of {len(remaining):,}: {full_time:8.2f} s  {load()}")

            deleted = sorted(rng.sample(sorted(remaining), DELETED))
            for shop_id in deleted:
                httpx.post(f"{url}/_sim/products/{shop_id}/delete", timeout=30).raise_for_status()
            remaining -= set(deleted)

            floor, read = raw_floor(url, DEMO_API_KEY, SWEEP_PAGE_SIZE)
            figures["floor"].append(floor)
            httpx.post(f"{url}/_sim/reset_stats", timeout=30).raise_for_status()
            started = time.perf_counter()
            with create_ecommerce_service(store) as service:
                found = sorted(
                    s.shop_id
                    for page in gone_from_shop(ADAPTERS["products"], service, store, page_size=SWEEP_PAGE_SIZE)
                    for s in page
                )
            sweep = time.perf_counter() - started
            figures["sweep"].append(sweep)
            stats = httpx.get(f"{url}/_sim/stats", timeout=30).json()
            served, requests = stats.get("products_list_rows", 0), stats.get("total", 0)
            round_exact = (
                found == deleted and served == len(remaining) == read and requests == stats.get("products_list")
            )
            exact = exact and round_exact
            print(
                f"           raw floor (ids only): {floor:6.2f} s; sweep: {sweep:6.2f} s = {sweep / floor:.2f}x the floor, "
                f"{100 * sweep / full_time:.1f}% of the full sync; {requests} requests, {served:,} ids served, "
                f"{len(found)} deletes found {'(exact)' if round_exact else f'(NOT the {len(deleted)} expected)'}  {load()}"
            )

        full_time, floor, sweep = (statistics.median(figures[k]) for k in ("full", "floor", "sweep"))
        share = 100 * sweep / full_time
        print(f"  medians over {ROUNDS} rounds ({load()}):")
        print(
            f"    full sync {full_time:.2f} s; raw floor {floor:.2f} s; sweep {sweep:.2f} s = {sweep / floor:.2f}x the floor"
        )
        print(f"    sweep / full sync: {share:.1f}% (target <= 20%) {'OK' if share <= 20 else 'MISSED'}")
        print(f"    exactly the deleted products found, only ids read, in every round: {'yes' if exact else 'NO'}")
        if not exact:
            raise SystemExit(1)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)


if __name__ == "__main__":
    main()
