"""API load benchmark: the production-mode server under concurrent clients.

The hub runs as production runs it: uvicorn with two worker processes (``--workers 2``,
JSON access logs to a file), PostgreSQL (database ``hub_bench_api``, recreated;
``BENCH_DATABASE_URL``), Redis for the cache and the throttles (a private ``redis-server``
on a free port, or ``BENCH_REDIS_URL``), DEBUG off. One store holds 2,000 products with a
photo each; an EDGE user of that store calls with a real JWT.

For each endpoint in turn, ``BENCH_CLIENTS`` (50) concurrent clients (asyncio + httpx, one
connection each, in this process) send requests back to back for ``BENCH_SECONDS`` (30):

- baseline: ``GET /healthz``, a static JSON answer of the same server (middleware, no
  database, no auth);
- ``GET /api/v1/sync/product-photos/?store_id=<uuid>`` (the edge's photo list, 100 a page);
- ``POST /api/v1/sync/product-photos/status/`` (the edge's status report, 20 photos a call).

Prints requests, throughput, p50/p95/p99 latency, error and 5xx rates, each endpoint's
ratios to the baseline, and the load average. Targets (issue 19): no 5xx; the photo
list's p99 within 3x the baseline's and its p50 within 4x. The load generator shares the
machine's cores with the server: throughput is a floor.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import free_port, recreate_postgres_database, start_redis, wait_for_http

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "50"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "2000"))
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_api")
REPORT_SIZE = 20


def _configure(redis_url: str, workdir: str) -> dict[str, str]:
    """Recreate the database, migrate it; returns the environment of the production mode."""
    recreate_postgres_database(PG_URL)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SECURE_", "AWS_", "CELERY_", "THROTTLE_"))
    }
    env.update(
        DATABASE_URL=PG_URL,
        REDIS_URL=redis_url,
        VAR_DIR=workdir,
        DEBUG="false",
        SECRET_KEY=uuid.uuid4().hex * 2,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        CELERY_TASK_DEFAULT_QUEUE=f"bench-{uuid.uuid4().hex[:6]}",
        # The default rates would answer 429 to most of this load: the throttles still run (Redis) at these.
        THROTTLE_USER="100000000/min",
        THROTTLE_ANON="100000000/min",
    )
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def _seed() -> tuple[str, list[str], str]:
    """One store, its products with a photo each, and an EDGE user's token."""
    from django.contrib.auth.models import Group, User

    from catalog.models import Product, Store, StoreMembership
    from catalog.roles import Role
    from catalog.tokens import StampedRefreshToken
    from photosync.models import ProductPhoto

    store = Store.objects.create(code="bench", name="Bench")
    products = Product.objects.bulk_create(
        Product(store=store, id_origin=number, name=f"Product {number}", price=10, inventory=1)
        for number in range(1, PRODUCTS + 1)
    )
    ProductPhoto.objects.bulk_create(
        ProductPhoto(
            store=store,
            product=product,
            shop_image_id=product.id_origin,
            object_key=f"products/{product.pk}/{uuid.uuid4().hex}.jpg",
            filename=f"{product.id_origin}.jpg",
            size=50_000,
            content_type="image/jpeg",
            checksum=uuid.uuid4().hex,
            width=800,
            height=800,
        )
        for product in products
    )
    edge = User.objects.create_user("edge", password=uuid.uuid4().hex)
    edge.groups.add(Group.objects.get(name=Role.EDGE.value))
    StoreMembership.objects.create(store=store, user=edge)
    photos = [str(pk) for pk in ProductPhoto.objects.filter(store=store).values_list("pk", flat=True)]
    return str(store.uuid), photos, str(StampedRefreshToken.for_user(edge).access_token)


async def _load(base: str, make_request, clients: int, seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    transport_errors = 0
    deadline = time.monotonic() + seconds

    async def client() -> None:
        nonlocal transport_errors
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=1)) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    response = await make_request(http)
                except httpx.TransportError:
                    transport_errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.monotonic() - started
    total = len(latencies) + transport_errors
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0.0] * 99
    errors = transport_errors + sum(count for status, count in statuses.items() if status >= 400)
    return {
        "requests": total,
        "rps": len(latencies) / elapsed,
        "p50": quantiles[49] * 1000,
        "p95": quantiles[94] * 1000,
        "p99": quantiles[98] * 1000,
        "error_rate": errors / total if total else 1.0,
        "server_errors": sum(count for status, count in statuses.items() if status >= 500),
        "statuses": dict(sorted(statuses.items())),
    }


def main() -> int:
    load_before = os.getloadavg()
    workdir = tempfile.mkdtemp(prefix="bench-api-")
    redis_process, redis_url = start_redis(workdir)
    server = None
    try:
        env = _configure(redis_url, workdir)
        store_uuid, photos, token = _seed()
        port = free_port()
        log_path = Path(workdir) / "uvicorn.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "config.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    "2",
                    "--lifespan",
                    "off",
                    "--log-config",
                    "config/uvicorn_log.json",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz")
        auth = {"Authorization": f"Bearer {token}"}
        rng = random.Random(7)

        async def healthz(http):
            return await http.get("/healthz")

        async def photo_list(http):
            return await http.get("/api/v1/sync/product-photos/", params={"store_id": store_uuid}, headers=auth)

        async def status_report(http):
            batch = [
                {"photo_id": photo, "status": rng.choice(["synced", "pending", "failed"])}
                for photo in rng.sample(photos, REPORT_SIZE)
            ]
            return await http.post(
                "/api/v1/sync/product-photos/status/", headers=auth, json={"store_id": store_uuid, "sync_batch": batch}
            )

        scenarios = [
            ("baseline GET /healthz", healthz),
            ("GET photo list (100)", photo_list),
            (f"POST status report ({REPORT_SIZE})", status_report),
        ]
        # A short warm-up: both workers import their code paths and open connections.
        asyncio.run(_load(base, photo_list, 4, 2))
        asyncio.run(_load(base, status_report, 4, 1))
        results = {}
        for name, request in scenarios:
            results[name] = asyncio.run(_load(base, request, CLIENTS, SECONDS))
        load = os.getloadavg()
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)

    baseline = results[scenarios[0][0]]
    print(
        f"API load: uvicorn --workers 2 (production mode, PostgreSQL, Redis), {CLIENTS} clients x {SECONDS:.0f} s "
        f"per endpoint, {PRODUCTS} photos; load average (1, 5, 15 min) before the run {load_before[0]:.2f} "
        f"{load_before[1]:.2f} {load_before[2]:.2f}, after it {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"on {os.cpu_count()} cores"
    )
    header = (
        f"{'endpoint':32} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7} {'5xx':>5} {'p50 x':>6} {'p99 x':>6} {'rps x':>6}"
    )
    print(header)
    for name, r in results.items():
        print(
            f"{name:32} {r['requests']:8d} {r['rps']:8.1f} {r['p50']:8.1f} {r['p95']:8.1f} {r['p99']:8.1f} "
            f"{r['error_rate']:7.2%} {r['server_errors']:5d} {r['p50'] / baseline['p50']:6.2f} "
            f"{r['p99'] / baseline['p99']:6.2f} {r['rps'] / baseline['rps']:6.2f}   statuses {r['statuses']}"
        )
    photo = results[scenarios[1][0]]
    no_5xx = all(r["server_errors"] == 0 for r in results.values())
    p99_ratio, p50_ratio = photo["p99"] / baseline["p99"], photo["p50"] / baseline["p50"]
    print(
        f"target no 5xx: {'met' if no_5xx else 'MISSED'}; photo list p99 within 3x the baseline's: "
        f"{'met' if p99_ratio <= 3 else 'MISSED'} ({p99_ratio:.2f}x); p50 within 4x: "
        f"{'met' if p50_ratio <= 4 else 'MISSED'} ({p50_ratio:.2f}x)"
    )
    print(f"(server log: {log_path})")
    return 0 if no_5xx else 1


if __name__ == "__main__":
    sys.exit(main())
