"""The shop simulator's cost of one page, the floor under the store-sync benchmark.

Starts the simulator in its own process with ``BENCH_PRODUCTS`` products (10,000 by default;
a comma-separated list runs each size in turn) and times raw GETs of one 100-product page
(``display=full``, JSON, as the connector reads them) at random places in the catalogue:

- **keyset page**: what the sync's store pass sends, ``filter[date_upd]=[moment,far future]``,
  ``sort=[date_upd_ASC,id_ASC]``, ``limit=0,100``;
- **id range page**: ``filter[id]=[a,b]``, ``sort=[id_ASC]``, what a parallel read by id range sends;
- **baseline**: the same 100 products named by id (``filter[id]=[a|b|...]``): primary-key look-ups
  and the same rendering, nothing to filter or sort.

Prints the median of ``BENCH_SAMPLES`` requests of each (alternating), their ratio, and the
load average.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import start_simulator
from shopsim import DEMO_API_KEY

SIZES = [int(n) for n in os.environ.get("BENCH_PRODUCTS", "10000").split(",")]
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "30"))
FAR_FUTURE = "9999-12-31 23:59:59"


def timed(client: httpx.Client, params: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.get("/api/products", params={"display": "full", "output_format": "JSON", **params})
    response.raise_for_status()
    elapsed = time.perf_counter() - started
    if len(response.json()["products"]) != 100:
        raise SystemExit(f"expected 100 products for {params}")
    return elapsed


def measure(products: int) -> None:
    process, url = start_simulator(products)
    rng = random.Random(3)
    try:
        with httpx.Client(base_url=url, auth=(DEMO_API_KEY, ""), timeout=60) as client:
            everything = client.get(
                "/api/products", params={"display": "[id,date_upd]", "output_format": "JSON", "date": "1"}
            ).json()["products"]
            by_date = sorted(everything, key=lambda row: (row["date_upd"], row["id"]))
            keyset, by_range, baseline = [], [], []
            for _ in range(SAMPLES):
                start = rng.randrange(0, products - 200)
                moment = by_date[start]["date_upd"]
                keyset.append(
                    timed(
                        client,
                        {
                            "date": "1",
                            "filter[date_upd]": f"[{moment},{FAR_FUTURE}]",
                            "sort": "[date_upd_ASC,id_ASC]",
                            "limit": "0,100",
                        },
                    )
                )
                first = rng.randrange(1, products - 100)
                by_range.append(timed(client, {"filter[id]": f"[{first},{first + 99}]", "sort": "[id_ASC]"}))
                ids = "|".join(str(i) for i in range(first, first + 100))
                baseline.append(timed(client, {"filter[id]": f"[{ids}]"}))
    finally:
        process.terminate()
        process.wait(timeout=10)
    floor = statistics.median(baseline)
    print(f"Shop simulator, {products:,} products, median of {SAMPLES} GETs of 100 products (display=full, JSON)")
    print(f"  baseline, 100 ids by primary key:        {1000 * floor:8.2f} ms")
    for name, samples in (("keyset page on (date_upd, id)", keyset), ("id range page", by_range)):
        median = statistics.median(samples)
        print(f"  {name + ':':40} {1000 * median:8.2f} ms  = {median / floor:5.2f}x the baseline")
    print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    for products in SIZES:
        measure(products)


if __name__ == "__main__":
    main()
