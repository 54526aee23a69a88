"""Edge sync benchmark: 10,000 photos on PostgreSQL, head office served by uvicorn.

Prints, in one run:
- list latency (median of BENCH_SAMPLES requests, limit 100) of the first and the last page
  by ``offset`` and by ``cursor`` (target: the last page by cursor within 2x of the first);
- a full edge pass (``photosync.edge.service.edge_sync_now``: login, cursor paging,
  comparisons, 5 concurrent downloads, MD5 checks, atomic writes, local rows, status
  reports in batches of 100, the watermark) against a bare baseline: the same 10,000
  downloads with the same concurrency (5 threads around one httpx client), bytes dropped;
  their ratio (target at most 1.3x);
- an incremental pass after 1% of the photos changed (target: downloaded bytes equal to
  the changed photos' bytes, time at most 10% of the full pass).

Head office runs as production does (uvicorn, ASGI) in a subprocess on a free loopback
port, on PostgreSQL (database ``hub_bench_edge``, recreated; ``BENCH_DATABASE_URL``) with
photos on the file system; the edge agent runs in this process on the same database (its
own tables) with its own photo folder. Without PostgreSQL, SQLite in a temporary folder.
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

from bench.support import free_port, fresh_database_url

PHOTOS = int(os.environ.get("BENCH_PHOTOS", "10000"))
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


class HeadOffice:
    def __init__(self, env: dict):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
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
            start_new_session=True,
        )
        import httpx

        for _ in range(300):
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("head office did not start")

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

    last_cursor, cursor = None, None
    while True:
        data = get(**({"cursor": cursor} if cursor else {}))
        if not data["has_more"]:
            break
        last_cursor, cursor = data["next_cursor"], data["next_cursor"]
    last_offset = ((PHOTOS - 1) // 100) * 100
    return {
        "first page, offset=0": _median_ms(lambda: get(offset=0), SAMPLES),
        f"last page, offset={last_offset}": _median_ms(lambda: get(offset=last_offset), SAMPLES),
        "first page, no cursor": _median_ms(lambda: get(), SAMPLES),
        "last page, cursor": _median_ms(lambda: get(cursor=last_cursor), SAMPLES),
    }


def _baseline(http, store_uuid: str, photo_ids: list[str]) -> tuple[float, int]:
    """Bare concurrent downloader: the same downloads, the same concurrency, bytes dropped."""

    def fetch(photo_id: str) -> int:
        with http.stream(
            "GET", f"/api/v1/sync/product-photos/{photo_id}/download/", params={"store_id": store_uuid}
        ) as response:
            response.raise_for_status()
            return sum(len(chunk) for chunk in response.iter_bytes())

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        total = sum(pool.map(fetch, photo_ids))
    return time.perf_counter() - started, total


def _reset_edge(root: Path) -> None:
    from photosync.models import EdgePhoto, EdgeStatusReport, EdgeSyncRun, EdgeSyncState

    EdgePhoto.objects.all().delete()
    EdgeSyncState.objects.all().delete()
    EdgeSyncRun.objects.all().delete()
    EdgeStatusReport.objects.all().delete()
    shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-edge-"))
    database_url, database = fresh_database_url(PG_URL, str(workdir))
    os.environ.pop("REDIS_URL", None)
    env = {
        "DATABASE_URL": database_url,
        "VAR_DIR": str(workdir / "var"),
        "MEDIA_ROOT": str(workdir / "media"),
        "SECRET_KEY": "bench-only-key-0123456789abcdef0123456789abcdef",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECURE_SSL_REDIRECT": "false",
        "THROTTLE_USER": "10000000/min",
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
    user = get_user_model().objects.create_user("edge-bench", password=PASSWORD)
    user.groups.add(Group.objects.get(name="EDGE"))
    StoreMembership.objects.create(store=store, user=user)
    started = time.perf_counter()
    _seed(store, PHOTOS)
    print(f"edge sync bench: {PHOTOS} photos on {database}, seeded in {time.perf_counter() - started:.1f}s")

    head_office = HeadOffice({**os.environ, **env})
    try:
        import httpx

        token = httpx.post(
            f"{head_office.url}/api/v1/auth/token/", json={"username": "edge-bench", "password": PASSWORD}
        ).json()["access"]
        limits = httpx.Limits(max_connections=CONCURRENCY + 2, max_keepalive_connections=CONCURRENCY + 2)
        http = httpx.Client(
            base_url=head_office.url, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=30
        )
        store_uuid = str(store.uuid)
        print("\nlist latency (median, limit 100):")
        latency = _list_latency(http, store_uuid)
        for name, value in latency.items():
            print(f"  {name:28s} {value:7.1f} ms")
        cursor_ratio = latency["last page, cursor"] / latency["first page, no cursor"]
        offset_ratio = (
            latency[next(k for k in latency if k.startswith("last page, offset"))] / latency["first page, offset=0"]
        )
        print(f"  last/first by cursor: {cursor_ratio:.2f}x (target <= 2x); by offset: {offset_ratio:.2f}x")
        if os.environ.get("BENCH_ONLY_LIST"):
            return 0 if cursor_ratio <= 2 else 1

        photo_ids = [
            str(pk)
            for pk in ProductPhoto.objects.filter(store=store).order_by("updated_at", "id").values_list("id", flat=True)
        ]
        config = HOConfig(head_office.url, "edge-bench", PASSWORD, store_uuid)
        root = Path(env["EDGE_PHOTO_ROOT"])
        agent_times, baseline_times = [], []
        for round_number in range(ROUNDS):
            seconds, total = _baseline(http, store_uuid, photo_ids)
            baseline_times.append(seconds)
            _reset_edge(root)
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
            assert summary.ok and summary.downloaded == PHOTOS, summary.line()
            print(
                f"  round {round_number + 1}: baseline {seconds:.2f}s ({total / 1e6:.1f} MB), "
                f"edge pass {agent_times[-1]:.2f}s ({summary.reported} reports)"
            )
        full, bare = min(agent_times), min(baseline_times)
        print("\nfull sync:")
        print(f"  edge agent (full pass)   {full:7.2f} s")
        print(f"  bare downloader          {bare:7.2f} s")
        print(f"  ratio                    {full / bare:7.2f}x (target <= 1.3x)")

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
        ok = summary.bytes == changed_bytes and summary.downloaded == changed
        return 0 if ok else 1
    finally:
        head_office.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
