"""Safe sync benchmark (issue 18): what a preview, the change history and the mass-change
brake cost a store sync.

``BENCH_PRODUCTS`` products (10,000 by default, a run of a few minutes; ``BENCH_PRODUCTS=50000``
runs the issue's size) on the shop simulator, in its own process; the hub on PostgreSQL
(database ``hub_bench_safesync``, recreated; ``BENCH_DATABASE_URL``), in this process, as
``run_sync_now`` runs a job. One store (products, bidirectional, ``last_write_wins``) is
synced once in full, then for each of ``BENCH_ROUNDS`` rounds (3 by default), every
measurement after 1% of the products changed on each side (``bench.support.change_both_sides``,
other products each time, a fifth of them changed on both sides):

1. **preview vs full sync**: a full-sync preview (``trigger_sync(sync_type="full",
   mode=JobMode.PREVIEW)``, run inline) of the changed state, then the full sync of the same
   state (brake off: ``max_changes_percent`` 100, ``max_changes`` 10^9, so it does not plan
   first). The ratio preview / full sync (target <= 1.2x), and each one's shop requests from the
   simulator's counters: reads (GET and list) and writes (PUT, PATCH, POST, DELETE); the
   preview's writes must be 0 (checked: the run fails otherwise).
2. **history on vs off**: the 1% incremental sync (brake off) with the change history, and
   with ``storesync.engine.history.write_changes`` (and the name ``storesync.engine.sync``
   imported) replaced by a no-op in this process: the measured difference is the insertion of
   the ``SyncChange`` rows (building them is still counted in both). Alternating which runs
   first; the overhead in percent (target <= 10%).
3. **brake on vs off**: the 1% incremental sync with the default limits (``max_changes`` 500,
   ``max_changes_percent`` 25) and with the brake off, alternating; whether the default one
   planned first (``job.options["planned"]``) or was held (then approved and run: its time
   counts both runs).

Every figure is printed with the load average, and the medians at the end.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench.store_sync as store_bench
from bench.store_sync import _configure as configure_hub
from bench.store_sync import load
from bench.support import change_both_sides, simulator_running

PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_safesync")
CHANGED = max(1, PRODUCTS // 100)  # 1% on each side
CONFLICTS = CHANGED // 5
WRITES = ("_put", "_patch", "_post", "_delete")
BRAKE_OFF = {"max_changes": 10**9, "max_changes_percent": 100}
BRAKE_DEFAULT = {"max_changes": 500, "max_changes_percent": 25}


class Shop:
    """The simulator's request counters: reset, then read as (reads, writes)."""

    def __init__(self, url: str) -> None:
        import httpx

        self.url, self.httpx = url, httpx

    def reset(self) -> None:
        self.httpx.post(f"{self.url}/_sim/reset_stats", timeout=30).raise_for_status()

    def requests(self) -> tuple[int, int]:
        counts = self.httpx.get(f"{self.url}/_sim/stats", timeout=30).json()
        writes = sum(v for k, v in counts.items() if k.endswith(WRITES) and isinstance(v, int))
        return counts.get("total", 0) - writes, writes


@contextlib.contextmanager
def history_off():
    """The change history's insert replaced by a no-op (where it is defined and where the engine uses it)."""
    from storesync.engine import history, sync

    original = history.write_changes
    history.write_changes = sync.write_changes = lambda rows: None
    try:
        yield
    finally:
        history.write_changes = sync.write_changes = original


def main() -> None:
    store_bench.PG_URL = os.environ["BENCH_DATABASE_URL"]  # its database, not the store sync bench's
    configure_hub()
    with simulator_running(PRODUCTS) as url:
        from catalog.models import Store
        from config.jobs import JobStatus, JobTrigger
        from shopsim import DEMO_API_KEY
        from storesync import services
        from storesync.constants import JobMode
        from storesync.models import SyncChange

        shop = Shop(url)
        store = Store.objects.create(
            code="bench-safe-sync", name="bench", platform="prestashop", platform_url=url, platform_api_key=DEMO_API_KEY
        )

        def brake(limits: dict) -> None:
            entity = {"type": "products", "direction": "bidirectional", "conflict_resolution": "last_write_wins"}
            services.configure_sync(store, sync_frequency="manual", entities=[{**entity, **limits}])

        seeds = itertools.count(100)

        def change() -> None:
            change_both_sides(store, url, PRODUCTS, CHANGED, CONFLICTS, seed=next(seeds))

        def timed(run) -> tuple[float, object, int, int]:
            shop.reset()
            started = time.perf_counter()
            job = run()
            seconds = time.perf_counter() - started
            if job.status not in (JobStatus.SUCCEEDED, JobStatus.HELD):
                raise SystemExit(f"a {job.mode} {job.sync_type} job ended {job.status}: {job.message}")
            return (seconds, job, *shop.requests())

        def updated(job) -> int:
            return job.entity_results["products"]["records_updated"]

        print(
            f"Safe sync benchmark: {PRODUCTS:,} products, simulator in its own process, PostgreSQL, "
            f"{ROUNDS} rounds, {CHANGED:,} changed per side each time; {load()}"
        )
        brake(BRAKE_OFF)
        seconds, first, _, _ = timed(lambda: services.run_sync_now(store, sync_type="full"))
        print(f"  first full sync: {seconds:.2f} s ({first.entity_results['products']['records_created']:,} created)")
        figures: dict[str, list[float]] = {k: [] for k in ("preview", "full", "on", "off", "braked", "free")}
        preview_writes, expected = 0, 2 * CHANGED - CONFLICTS
        for round_number in range(1, ROUNDS + 1):
            change()
            seconds, job, reads, writes = timed(
                lambda: services.run_inline(
                    services.trigger_sync(
                        store, sync_type="full", mode=JobMode.PREVIEW, send=False, trigger=JobTrigger.COMMAND
                    )
                )
            )
            figures["preview"].append(seconds)
            preview_writes += writes
            planned = job.result.get("preview", {}).get("products", {}).get("records", 0)
            print(
                f"  round {round_number}: full preview: {seconds:7.2f} s; {reads:,} shop reads, {writes} shop writes; "
                f"{planned:,} records planned (expected {expected:,})  {load()}"
            )
            full_seconds, job, reads, writes = timed(lambda: services.run_sync_now(store, sync_type="full"))
            figures["full"].append(full_seconds)
            print(
                f"           full sync:    {full_seconds:7.2f} s; {reads:,} shop reads, {writes} shop writes; "
                f"{updated(job):,} updated, planned first: {bool(job.options.get('planned'))}; "
                f"preview / full sync {seconds / full_seconds:.2f}x  {load()}"
            )

            variants = [("on", contextlib.nullcontext), ("off", history_off)]
            for name, context in variants if round_number % 2 else variants[::-1]:
                change()
                with context():
                    seconds, job, reads, writes = timed(lambda: services.run_sync_now(store))
                figures[name].append(seconds)
                print(
                    f"           1% incremental, history {name + ':':4} {seconds:6.2f} s; {updated(job):,} updated, "
                    f"{writes} shop writes, {SyncChange.objects.filter(job=job).count():,} history rows  {load()}"
                )

            variants = [("braked", BRAKE_DEFAULT), ("free", BRAKE_OFF)]
            for name, limits in variants if round_number % 2 else variants[::-1]:
                brake(limits)
                change()
                seconds, job, reads, writes = timed(lambda: services.run_sync_now(store))
                how = "planned first" if job.options.get("planned") else "no plan first"
                if job.status == JobStatus.HELD:
                    how = "held by the brake, then approved"
                    seconds += timed(lambda job=job: services.run_inline(services.approve_job(job, send=False)))[0]
                figures[name].append(seconds)
                label = "default brake" if name == "braked" else "brake off"
                print(f"           1% incremental, {label + ':':14} {seconds:6.2f} s ({how})  {load()}")
            brake(BRAKE_OFF)

        med = {k: statistics.median(v) for k, v in figures.items()}
        ratio = med["preview"] / med["full"]
        overhead = 100 * (med["on"] - med["off"]) / med["off"]
        brake_cost = 100 * (med["braked"] - med["free"]) / med["free"]
        print(f"  medians over {ROUNDS} rounds ({load()}):")
        print(
            f"    full preview {med['preview']:.2f} s; full sync {med['full']:.2f} s; preview / full sync: "
            f"{ratio:.2f}x (target <= 1.2x) {'OK' if ratio <= 1.2 else 'MISSED'}"
        )
        print(f"    the previews' shop writes: {preview_writes} (target 0) {'OK' if preview_writes == 0 else 'MISSED'}")
        print(
            f"    1% incremental: history on {med['on']:.2f} s, off {med['off']:.2f} s: overhead {overhead:.1f}% "
            f"(target <= 10%) {'OK' if overhead <= 10 else 'MISSED'}"
        )
        print(
            f"    1% incremental: default brake {med['braked']:.2f} s, brake off {med['free']:.2f} s: "
            f"{brake_cost:+.1f}%"
        )
        if preview_writes:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
