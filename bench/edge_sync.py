"""Edge sync benchmark: head office served by uvicorn, its photo list at 200,000 photos and
a full edge pass of 10,000 photos against a static file server.

Prints, in one run, with the load average before and after:
- list latency (median of BENCH_SAMPLES requests, limit 100) of the first and the last page
  by ``offset`` and by ``cursor``, on a store of ``BENCH_LIST_PHOTOS`` (200,000) photos
  (target: the last page by cursor within 2x of the first);
- a full edge pass (``photosync.edge.service.edge_sync_now``: login, cursor paging,
  comparisons, 5 concurrent downloads, MD5 checks, atomic writes, local rows, status
  reports in batches of 100, the watermark) of a store of ``BENCH_PHOTOS`` (10,000) photos
  against the floor: a static file server (``bench/static_files.py``, a bare ASGI app on
  uvicorn, one process like head office) serving the same files from head office's photo
  folder, fetched with the same concurrency (5 threads around one httpx client), bytes
  dropped; their ratio (target at most 1.3x). Also the same downloads through head
  office's download endpoint without the agent (what the floor was before issue 19);
- an incremental pass after 1% of the photos changed (target: downloaded bytes equal to
  the changed photos' bytes, time at most 10% of the full pass).

Head office runs as production does (uvicorn, ASGI, production mode: a private
``redis-server`` or ``BENCH_REDIS_URL`` for its cache and throttles, the connection pool)
in a subprocess on a free loopback port, on PostgreSQL (database ``hub_bench_edge``,
recreated; ``BENCH_DATABASE_URL``) with photos on the file system; the edge agent runs in
this process (embedded mode) on the same database (its own tables) with its own photo
folder. Without PostgreSQL, SQLite in a temporary folder (and no pool).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import cpu_seconds, free_port, fresh_database_url, start_redis, wait_for_http

PHOTOS = int(os.environ.get("BENCH_PHOTOS", "10000"))
LIST_PHOTOS = int(os.environ.get("BENCH_LIST_PHOTOS", "200000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "15"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONCURRENCY = 5
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_edge")
PASSWORD = "bench-Pass-123"


def _photo_bytes(seed: int) -> bytes:
    """2-6 KB of incompressible bytes behind a JPEG marker (the agent does not decode images)."""
    return b"\xff\xd8\xff\xe0" + os.urandom(2048 + (seed * 7919) % 4096)


def _seed(store, count: int) -> None:
    from django.utils import timezone

    from catalog.models import Product
    from photosync.imagesync.storage import original_key, put_object
    from photosync.models import ProductPhoto

    products = Product.objects.bulk_create(
        [Product(store=store, sku=f"B{n:06d}", name=f"Bench product {n}") for n in range(count)], batch_size=2000
    )
    now = timezone.now()
    photos = []
    for n, product in enumerate(products):
        data = _photo_bytes(n)
        checksum = hashlib.md5(data).hexdigest()
        key = original_key(product.uuid, checksum, "jpg")
        put_object(key, data, len(data))
        photos.append(
            ProductPhoto(
                store=store,
                product=product,
                object_key=key,
                filename=f"b{n}.jpg",
                size=len(data),
                content_type="image/jpeg",
                checksum=checksum,
            )
        )
    ProductPhoto.objects.bulk_create(photos, batch_size=2000)
    ProductPhoto.objects.update(updated_at=now)  # one instant for all: the worst case for paging ties
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # what autovacuum would have done by now
            cursor.execute("VACUUM ANALYZE photosync_productphoto")


def _seed_rows(store, count: int) -> None:
    """``count`` products with a photo row each, no bytes (the list never reads them), in
    large batches: the list's store. Every ``updated_at`` is one instant, as in ``_seed``."""
    from django.db import connection
    from django.utils import timezone

    from catalog.models import Product
    from photosync.models import ProductPhoto

    now = timezone.now()
    for start in range(0, count, 10_000):
        numbers = range(start, min(start + 10_000, count))
        products = Product.objects.bulk_create(
            [Product(store=store, sku=f"L{n:07d}", name=f"List product {n}") for n in numbers]
        )
        ProductPhoto.objects.bulk_create(
            ProductPhoto(
                store=store,
                product=product,
                object_key=f"products/{product.uuid}/{n:032x}.jpg",
                filename=f"l{n}.jpg",
                size=4096,
                content_type="image/jpeg",
                checksum=f"{n:032x}",
                updated_at=now,
            )
            for n, product in zip(numbers, products, strict=True)
        )
    ProductPhoto.objects.filter(store=store).update(updated_at=now)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE photosync_productphoto")


def _change(store, count: int) -> int:
    """Give ``count`` photos new bytes (what the image sync does); returns their total size."""
    from django.utils import timezone

    from photosync.imagesync.storage import original_key, put_object
    from photosync.models import ProductPhoto

    total = 0
    for photo in ProductPhoto.objects.filter(store=store).select_related("product").order_by("?")[:count]:
        data = _photo_bytes(photo.size + 1)
        photo.checksum = hashlib.md5(data).hexdigest()
        photo.object_key = original_key(photo.product.uuid, photo.checksum, "jpg")
        put_object(photo.object_key, data, len(data))
        photo.size, photo.version, photo.updated_at = len(data), photo.version + 1, timezone.now()
        photo.save()
        total += len(data)
    return total


class Uvicorn:
    """An ASGI app in a uvicorn process of its own (one worker) on a free loopback port,
    its output in ``log`` (production mode logs every request in JSON whatever uvicorn's flags)."""

    def __init__(self, app: str, env: dict, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


def _median_ms(call, samples: int) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _list_latency(http, store_uuid: str) -> dict[str, float]:
    path = "/api/v1/sync/product-photos/"
    params = {"store_id": store_uuid, "limit": 100}

    def get(**extra):
        response = http.get(path, params=params | extra)
        response.raise_for_status()
        return response.json()["data"]

    last_offset = ((LIST_PHOTOS - 1) // 100) * 100
    # The cursor the previous page would have given (walking 2,000 pages to it takes minutes).
    last_cursor = get(offset=last_offset - 100)["next_cursor"]
    return {
        "first page, offset=0": _median_ms(lambda: get(offset=0), SAMPLES),
        f"last page, offset={last_offset}": _median_ms(lambda: get(offset=last_offset), SAMPLES),
        "first page, no cursor": _median_ms(lambda: get(), SAMPLES),
        "last page, cursor": _median_ms(lambda: get(cursor=last_cursor), SAMPLES),
    }


def _bare_downloads(http, paths: list[str], params: dict | None = None) -> tuple[float, int]:
    """A bare concurrent downloader: ``paths`` fetched with the edge's concurrency, bytes dropped."""

    def fetch(path: str) -> int:
        with http.stream("GET", path, params=params) as response:
            response.raise_for_status()
            return sum(len(chunk) for chunk in response.iter_bytes())

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        total = sum(pool.map(fetch, paths))
    return time.perf_counter() - started, total


class CPU:
    """CPU seconds used during a block, by this process (client side) and by a server process."""

    def __init__(self, server: Uvicorn):
        self.pid = server.process.pid

    def __enter__(self) -> CPU:
        self.client, self.server = time.process_time(), cpu_seconds(self.pid)
        return self

    def __exit__(self, *exc_info) -> None:
        self.client, self.server = time.process_time() - self.client, cpu_seconds(self.pid) - self.server


def _reset_edge(root: Path) -> None:
    from photosync.models import EdgePhoto, EdgeStatusReport, EdgeSyncRun, EdgeSyncState

    EdgePhoto.objects.all().delete()
    EdgeSyncState.objects.all().delete()
    EdgeSyncRun.objects.all().delete()
    EdgeStatusReport.objects.all().delete()
    shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="bench-edge-"))
    database_url, database = fresh_database_url(PG_URL, str(workdir))
    os.environ.pop("REDIS_URL", None)
    redis_process, redis_url = start_redis(str(workdir))
    env = {
        "DATABASE_URL": database_url,
        "VAR_DIR": str(workdir / "var"),
        "MEDIA_ROOT": str(workdir / "media"),
        "SECRET_KEY": "bench-only-key-0123456789abcdef0123456789abcdef",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECURE_SSL_REDIRECT": "false",
        "THROTTLE_USER": "10000000/min",
        "THROTTLE_PHOTO_DOWNLOAD": "10000000/min",
        # The bare downloaders keep one token for the whole run: on a busy machine a round
        # outlasted the default 15 minutes and the next one answered 401.
        "JWT_ACCESS_MINUTES": "600",
        "THROTTLE_LOGIN_USER": "10000/min",
        "THROTTLE_LOGIN_ADDRESS": "10000/min",
        "EDGE_PHOTO_ROOT": str(workdir / "edge"),
        "EDGE_SYNC_CONCURRENCY": str(CONCURRENCY),
        "PHOTO_SYNC_WATERMARK_LAG": "0",
        # Under ASGI every request runs in its own thread: persistent connections would pile up.
        "CONN_MAX_AGE": "0",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from catalog.models import Store, StoreMembership
    from photosync.edge.client import HOConfig
    from photosync.edge.service import edge_sync_now
    from photosync.models import ProductPhoto

    store = Store.objects.create(code="bench", name="Bench store")
    list_store = Store.objects.create(code="bench-list", name="Bench list store")
    user = get_user_model().objects.create_user("edge-bench", password=PASSWORD)
    user.groups.add(Group.objects.get(name="EDGE"))
    StoreMembership.objects.create(store=store, user=user)
    StoreMembership.objects.create(store=list_store, user=user)
    started = time.perf_counter()
    _seed(store, PHOTOS)
    _seed_rows(list_store, LIST_PHOTOS)
    print(
        f"edge sync bench: {PHOTOS} photos (bytes and rows) and a list store of {LIST_PHOTOS} (rows) on {database}, "
        f"seeded in {time.perf_counter() - started:.1f}s; load average before {_load(load_before)}"
    )

    # Head office in production mode (cache, throttles and its connection pool); the agent
    # in this process stays embedded.
    head_office = Uvicorn(
        "config.asgi:application", {**os.environ, **env, "REDIS_URL": redis_url}, workdir / "head-office.log"
    )
    static = Uvicorn(
        "bench.static_files:app", {**os.environ, "STATIC_FILES_ROOT": env["MEDIA_ROOT"]}, workdir / "static.log"
    )
    try:
        wait_for_http(f"{head_office.url}/healthz")
        import httpx

        token = httpx.post(
            f"{head_office.url}/api/v1/auth/token/", json={"username": "edge-bench", "password": PASSWORD}
        ).json()["access"]
        limits = httpx.Limits(max_connections=CONCURRENCY + 2, max_keepalive_connections=CONCURRENCY + 2)
        http = httpx.Client(
            base_url=head_office.url, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=30
        )
        store_uuid = str(store.uuid)
        print(f"\nlist latency (median, limit 100), {LIST_PHOTOS} photos:")
        latency = _list_latency(http, str(list_store.uuid))
        for name, value in latency.items():
            print(f"  {name:28s} {value:7.1f} ms")
        cursor_ratio = latency["last page, cursor"] / latency["first page, no cursor"]
        offset_ratio = (
            latency[next(k for k in latency if k.startswith("last page, offset"))] / latency["first page, offset=0"]
        )
        print(f"  last/first by cursor: {cursor_ratio:.2f}x (target <= 2x); by offset: {offset_ratio:.2f}x")
        if os.environ.get("BENCH_ONLY_LIST"):
            return 0 if cursor_ratio <= 2 else 1

        feed = ProductPhoto.objects.filter(store=store).order_by("updated_at", "id")
        downloads = [f"/api/v1/sync/product-photos/{pk}/download/" for pk in feed.values_list("id", flat=True)]
        files = [f"/{key}" for key in feed.values_list("object_key", flat=True)]
        static_http = httpx.Client(base_url=static.url, limits=limits, timeout=30)
        wait_for_http(f"{static.url}/{feed.first().object_key}")
        config = HOConfig(head_office.url, "edge-bench", PASSWORD, store_uuid)
        root = Path(env["EDGE_PHOTO_ROOT"])
        agent_times, floor_times, endpoint_times = [], [], []
        cpu: dict[str, list[CPU]] = {"floor": [], "endpoint": [], "agent": []}
        for round_number in range(ROUNDS):
            with CPU(static) as used:
                seconds, total = _bare_downloads(static_http, files)
            floor_times.append(seconds)
            cpu["floor"].append(used)
            with CPU(head_office) as used:
                endpoint_seconds, endpoint_total = _bare_downloads(http, downloads, {"store_id": store_uuid})
            assert endpoint_total == total, (endpoint_total, total)
            endpoint_times.append(endpoint_seconds)
            cpu["endpoint"].append(used)
            _reset_edge(root)
            with CPU(head_office) as used:
                started = time.perf_counter()
                if os.environ.get("BENCH_PROFILE"):  # where the agent's own time goes (this thread only)
                    import cProfile
                    import pstats

                    profiler = cProfile.Profile()
                    run, summary = profiler.runcall(edge_sync_now, full=True, config=config, root=root)
                    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
                else:
                    run, summary = edge_sync_now(full=True, config=config, root=root)
                agent_times.append(time.perf_counter() - started)
            cpu["agent"].append(used)
            assert summary.ok and summary.downloaded == PHOTOS, summary.line()
            print(
                f"  round {round_number + 1}: static files {seconds:.2f}s ({total / 1e6:.1f} MB), download endpoint "
                f"{endpoint_seconds:.2f}s, edge pass {agent_times[-1]:.2f}s ({summary.reported} reports)"
            )
        full, floor, endpoint = min(agent_times), min(floor_times), min(endpoint_times)
        print(f"\nfull sync of {PHOTOS} photos, {CONCURRENCY} at once (best of {ROUNDS}):")
        print(f"  edge agent (full pass)          {full:7.2f} s  {PHOTOS / full:6.0f} photos/s")
        print(f"  bare downloader, static files   {floor:7.2f} s  {PHOTOS / floor:6.0f} photos/s  (the floor)")
        print(f"  bare downloader, hub endpoint   {endpoint:7.2f} s  {PHOTOS / endpoint:6.0f} photos/s")
        print(f"  edge pass / floor               {full / floor:7.2f}x (target <= 1.3x)")
        print(f"  hub endpoint / floor            {endpoint / floor:7.2f}x")
        print("  CPU per photo (least of the rounds; steadier than wall time on a shared machine):")
        for name, label in (("floor", "static files"), ("endpoint", "hub endpoint"), ("agent", "edge pass")):
            client = min(used.client for used in cpu[name]) * 1000 / PHOTOS
            server = min(used.server for used in cpu[name]) * 1000 / PHOTOS
            print(f"    {label:14s} client {client:5.2f} ms, server {server:5.2f} ms")

        changed = max(1, PHOTOS // 100)
        changed_bytes = _change(store, changed)
        started = time.perf_counter()
        run, summary = edge_sync_now(config=config, root=root)
        incremental = time.perf_counter() - started
        assert summary.ok, summary.line()
        print(f"\nincremental pass, {changed} photos changed ({changed_bytes} bytes):")
        print(
            f"  time                     {incremental:7.2f} s = {100 * incremental / full:.1f}% of the full "
            "pass (target <= 10%)"
        )
        print(
            f"  downloaded               {summary.downloaded} photos, {summary.bytes} bytes "
            f"({'equal to' if summary.bytes == changed_bytes else 'NOT equal to'} the changed bytes)"
        )
        http.close()
        static_http.close()
        print(f"\nload average before {_load(load_before)}, after {_load(os.getloadavg())} on {os.cpu_count()} cores")
        ok = summary.bytes == changed_bytes and summary.downloaded == changed
        return 0 if ok else 1
    finally:
        head_office.stop()
        static.stop()
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def _load(averages: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in averages)


if __name__ == "__main__":
    sys.exit(main())
