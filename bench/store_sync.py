"""Store sync benchmark: the hub's full and incremental syncs against a raw-HTTP floor.

``BENCH_PRODUCTS`` products (50,000 by default) on the shop simulator, in its own process
(a shop is another machine); the hub on PostgreSQL (database ``hub_bench_storesync``,
recreated; ``BENCH_DATABASE_URL``), in this process, as ``run_sync_now`` runs a job. For
each of ``BENCH_ROUNDS`` rounds (3 by default), alternately:

- **raw floor**: the pages a full sync reads, fetched and parsed with nothing else: httpx and
  the JSON parse, windows of 100 ids (``filter[id]=[a|...]``, ``display=full``) and each
  window's stock rows, ``STORESYNC_WRITE_CONCURRENCY`` windows at once (one client each), as
  the sync reads them;
- **full sync** of the products into an empty store: the job, the shop read by windows of
  ids in parallel, the three-way merge, the platform rows and sync state written in bulk per
  batch of 500 with the job's progress and checkpoint. The brake (``max_changes`` 5% of the
  records, ``BRAKE``, as an operator of a catalogue this size would set it) makes no plan
  first: a store without platform records has nothing to overwrite. Its ratio to the floor (target
  <= 1.5x at 50,000), and the hub's own work: the sync's time minus the time its thread
  waited for the shop's pages;
- **incremental sync** after 1% of the records changed on each side (``bench.support.change_both_sides``):
  its share of the full sync (target <= 5%), its shop requests, and its outcome against the
  exact expectation (``2 * changed - conflicts`` records updated, ``changed`` shop writes,
  the conflicts settled by ``last_write_wins``, nothing created, nothing pending).

Every figure is printed with the load average (``os.getloadavg()``), and the medians at the
end. ``BENCH_PROFILE=1`` profiles the last round's syncs (cProfile, top functions printed).
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import change_both_sides, recreate_postgres_database, start_simulator

PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "50000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PROFILE = os.environ.get("BENCH_PROFILE") == "1"
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_storesync")
CHANGED = PRODUCTS // 100  # 1% on each side
CONFLICTS = CHANGED // 5  # of the platform's changes, on products also changed in the shop
# The mass-change brake as an operator of a catalogue this size sets it: 5% of the records (the
# default 500 would hold the 1% incremental of 50,000 products for approval, ~900 overwrites).
BRAKE = max(500, PRODUCTS // 20)
PAGE = 100


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


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


def raw_floor(url: str, api_key: str, concurrency: int) -> float:
    """The full sync's reads with nothing else: fetch and parse the same pages, as many at once."""
    import httpx

    def window(client: httpx.Client, first: int) -> int:
        ids = "[" + "|".join(str(i) for i in range(first, min(first + PAGE, PRODUCTS + 1))) + "]"
        common = {"output_format": "JSON"}
        rows = client.get("products", params={**common, "display": "full", "filter[id]": ids}).json()["products"]
        stock = {
            **common,
            "display": "[id,id_product,quantity]",
            "filter[id_product]": "[" + "|".join(str(row["id"]) for row in rows) + "]",
            "filter[id_product_attribute]": "[0]",
        }
        client.get("stock_availables", params=stock).json()
        return len(rows)

    started = time.perf_counter()
    clients = [httpx.Client(base_url=f"{url}/api/", auth=(api_key, ""), timeout=120) for _ in range(concurrency)]
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            firsts = list(range(1, PRODUCTS + 1, PAGE))
            read = sum(pool.map(lambda k: window(clients[k % concurrency], firsts[k]), range(len(firsts))))
    finally:
        for client in clients:
            client.close()
    if read != PRODUCTS:
        raise SystemExit(f"the floor read {read} products, not {PRODUCTS}")
    return time.perf_counter() - started


class ShopWaits:
    """Time the sync's thread spends waiting for the shop's pages (bench instrumentation)."""

    def __init__(self) -> None:
        from storesync.engine.connectors import ShopConnectors

        self.seconds = 0.0
        original = ShopConnectors.read_ahead

        def timed(connectors, work, items, **options):
            pages = original(connectors, work, items, **options)
            while True:
                started = time.perf_counter()
                page = next(pages, None)
                self.seconds += time.perf_counter() - started
                if page is None:
                    return
                yield page

        ShopConnectors.read_ahead = timed


def profiled(function, name: str):
    if not PROFILE:
        return function()
    profile = cProfile.Profile()
    result = profile.runcall(function)
    path = Path(tempfile.gettempdir()) / f"bench-storesync-{name}.prof"
    profile.dump_stats(path)
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
    print(f"    profile of the {name} sync ({path}), by own time:")
    print("\n".join("      " + line for line in out.getvalue().splitlines()[6:40]))
    return result


def main() -> None:
    _configure()
    simulator, url = start_simulator(PRODUCTS)
    try:
        import httpx
        from django.conf import settings

        from catalog.models import Store
        from shopsim import DEMO_API_KEY
        from storesync import services

        concurrency = settings.STORESYNC_WRITE_CONCURRENCY
        waits = ShopWaits()
        print(
            f"Store sync benchmark: {PRODUCTS:,} products, simulator in its own process, PostgreSQL, "
            f"{ROUNDS} rounds, {concurrency} connectors; {load()}"
        )
        figures: dict[str, list[float]] = {"floor": [], "full": [], "own": [], "incremental": []}
        exact = True
        for round_number in range(1, ROUNDS + 1):
            last = round_number == ROUNDS
            floor = raw_floor(url, DEMO_API_KEY, concurrency)
            figures["floor"].append(floor)
            print(f"  round {round_number}: raw floor (fetch + parse, {concurrency} at once): {floor:8.2f} s  {load()}")

            store = Store.objects.create(
                code=f"bench-sync-{round_number}",
                name="bench",
                platform="prestashop",
                platform_url=url,
                platform_api_key=DEMO_API_KEY,
            )
            services.configure_sync(
                store,
                sync_frequency="manual",
                entities=[
                    {
                        "type": "products",
                        "direction": "bidirectional",
                        "conflict_resolution": "last_write_wins",
                        "max_changes": BRAKE,
                    }
                ],
            )
            waits.seconds = 0.0
            started = time.perf_counter()
            full = (
                profiled(lambda store=store: services.run_sync_now(store, sync_type="full"), "full")
                if last
                else (services.run_sync_now(store, sync_type="full"))
            )
            full_time = time.perf_counter() - started
            own = full_time - waits.seconds
            figures["full"].append(full_time)
            figures["own"].append(own)
            created = full.entity_results["products"]["records_created"]
            if full.status != "succeeded":
                raise SystemExit(f"the full sync ended {full.status}: {full.message}")
            print(
                f"           full sync: {full_time:8.2f} s = {full_time / floor:.2f}x the floor "
                f"({created:,} created, {full.status}); hub's own work net of shop waiting "
                f"{own:.2f} s = {own / floor:.2f}x the floor  {load()}"
            )

            change_both_sides(store, url, PRODUCTS, CHANGED, CONFLICTS)
            httpx.post(f"{url}/_sim/reset_stats", timeout=30)
            started = time.perf_counter()
            incremental = (
                profiled(lambda store=store: services.run_sync_now(store), "incremental")
                if last
                else (services.run_sync_now(store))
            )
            incremental_time = time.perf_counter() - started
            figures["incremental"].append(incremental_time)
            results = incremental.entity_results["products"]
            stats = httpx.get(f"{url}/_sim/stats", timeout=30).json()
            writes, requests = stats.get("product_write", 0), stats.get("total", 0)
            expected = {
                "records_updated": 2 * CHANGED - CONFLICTS,
                "records_created": 0,
                "conflicts_resolved": CONFLICTS,
                "conflicts_pending": 0,
                "errors": 0,
            }
            got = {key: results[key] for key in expected}
            round_exact = (
                got == expected and writes == CHANGED and created == PRODUCTS and incremental.status == "succeeded"
            )
            exact = exact and round_exact
            print(
                f"           incremental (1% per side): {incremental_time:6.2f} s = "
                f"{100 * incremental_time / full_time:.1f}% of the full sync; {results['records_synced']:,} read, "
                f"{writes} shop writes, {requests:,} shop requests ({stats.get('product_patch', 0)} PATCH); "
                f"outcome {'exact' if round_exact else f'NOT the expected {expected}: {got}'}  {load()}"
            )

        floor, full_time = statistics.median(figures["floor"]), statistics.median(figures["full"])
        own, incremental_time = statistics.median(figures["own"]), statistics.median(figures["incremental"])
        ratio, share = full_time / floor, 100 * incremental_time / full_time
        print(f"  medians over {ROUNDS} rounds ({load()}):")
        print(f"    raw floor {floor:.2f} s; full sync {full_time:.2f} s")
        print(f"    full sync / raw floor: {ratio:.2f}x (target <= 1.5x) {'OK' if ratio <= 1.5 else 'MISSED'}")
        print(f"    hub's own work net of shop waiting: {own:.2f} s = {own / floor:.2f}x the floor")
        print(
            f"    1% incremental: {incremental_time:.2f} s = {share:.1f}% of the full sync (target <= 5%) "
            f"{'OK' if share <= 5 else 'MISSED'}"
        )
        print(f"    exactly the expected updates and conflicts in every round: {'yes' if exact else 'NO'}")
        if not exact:
            raise SystemExit(1)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)


if __name__ == "__main__":
    main()
