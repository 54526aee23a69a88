"""Image sync benchmark: 2,000 products on the shop simulator with 20 ms latency per request.

Prints, in one run:
- the project's full sync: ``POST /sync/sync-images``'s run (ids fetched in batches of 100,
  downloads, Pillow checks, storage, WebP renditions, placeholders, database writes) on
  two Celery worker processes sharing its chunks, 4 downloads at once each;
- a bare baseline: httpx clients in a ThreadPoolExecutor, 8 downloads at once, fetching
  the same image URLs and doing nothing with the bytes;
- their ratio (target: at most 1.5x), and their CPU time per image (target: at most 2.5x);
  and, for information, the CPU per image of the same downloader doing the image work by
  the barest means (Pillow decodes the bytes and encodes the configured WebP sizes, nothing
  else): what no image sync can go below;
- the second, unchanged sync: its time (target: at most 10% of the full sync) and the image
  bytes it moved (target: 0);
- for information, the same full sync in the embedded mode (one process, 8 threads).

The full sync and the baseline are measured ROUNDS times (3), alternately (the side that
goes first alternates too), and each round's ratio is printed with the load average
(``os.getloadavg()``) before and after it: the machine may be shared. Each side's CPU time
per image is printed too: the Celery worker processes' (user + system, from /proc) against
the baseline's (``getrusage`` of this process while only the baseline runs). Neither counts
the simulator's CPU; the project's figure leaves out PostgreSQL's and Redis's.

The simulator runs in its own process (a shop is another machine). The hub runs on
PostgreSQL (database ``hub_bench_images``, recreated; ``BENCH_DATABASE_URL``) and Redis
(``BENCH_REDIS_URL``, a queue of its own); photos go to a temporary media folder. Without
Redis only the embedded figure is measured (and checked against the targets); without
PostgreSQL, SQLite in a temporary directory is used.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import cpu_seconds as _cpu_seconds
from bench.support import free_port, fresh_database_url

PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "2000"))
LATENCY_MS = float(os.environ.get("BENCH_LATENCY_MS", "20"))
CONCURRENCY = 8  # downloads at once: the baseline's threads, the project's threads in all its workers
WORKERS = 2
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))  # full sync and baseline, alternately, this many times
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_images")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")


def _redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except Exception:
        return False


def _configure() -> tuple[str, bool]:
    workdir = tempfile.mkdtemp(prefix="bench-images-")
    url, kind = fresh_database_url(PG_URL, workdir)
    production = kind == "PostgreSQL" and _redis_available()
    for name in ("REDIS_URL", "AWS_STORAGE_BUCKET_NAME", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER"):
        os.environ.pop(name, None)
    os.environ.update(
        DATABASE_URL=url,
        VAR_DIR=workdir,
        MEDIA_ROOT=f"{workdir}/media",
        LOG_LEVEL="WARNING",
        PLATFORM_URL_ALLOWLIST="127.0.0.1",
        IMAGE_SYNC_CONCURRENCY=str(CONCURRENCY),
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY=uuid.uuid4().hex * 2,
        SECURE_SSL_REDIRECT="false",
        CELERY_TASK_DEFAULT_QUEUE=f"bench-images-{uuid.uuid4().hex[:8]}",
    )
    if production:
        os.environ["REDIS_URL"] = REDIS_URL
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return kind, production


def _wait_http(url: str, process: subprocess.Popen, what: str) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit(f"{what} did not start") from None
            time.sleep(0.1)


def _start_simulator() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shopsim",
            "--port",
            str(port),
            "--products",
            str(PRODUCTS),
            "--customers",
            "0",
            "--orders",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_http(f"{url}/_sim/stats", process, "the shop simulator")
    return process, url


def _start_workers() -> subprocess.Popen:
    """A Celery worker with WORKERS processes, CONCURRENCY / WORKERS downloads at once each."""
    from config.celery import app

    name = f"{os.environ['CELERY_TASK_DEFAULT_QUEUE']}@localhost"
    env = {**os.environ, "IMAGE_SYNC_CONCURRENCY": str(CONCURRENCY // WORKERS), "CONN_MAX_AGE": "0"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--queues",
            os.environ["CELERY_TASK_DEFAULT_QUEUE"],
            "--hostname",
            name,
            "--concurrency",
            str(WORKERS),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[name], timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the Celery worker did not start")
    return process


def _encode_renditions(data: bytes) -> None:
    """The image work by the barest means: Pillow decodes the bytes and encodes each configured
    WebP size (the hub's quality and encoder effort), with no checks, storage or database."""
    import io

    from django.conf import settings
    from PIL import Image

    encoded = set()  # a size two renditions share is encoded once, as the hub does
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        for side in sorted(set(settings.IMAGE_RENDITIONS.values()), reverse=True):
            image.thumbnail((side, side))
            if image.size not in encoded:
                encoded.add(image.size)
                image.save(io.BytesIO(), "WEBP", quality=settings.IMAGE_WEBP_QUALITY, method=0)


def _baseline(url: str, api_key: str, paths: list[str], renditions: bool = False) -> tuple[float, float]:
    """A plain concurrent downloader: one httpx client per thread, bodies read and dropped (or,
    with ``renditions``, decoded and encoded by :func:`_encode_renditions`).
    Returns (seconds, CPU seconds of this process)."""
    import httpx

    local = threading.local()
    clients = []
    ssl_context = httpx.create_ssl_context()  # built once, as the hub's clients share one (50 ms each)

    def get(path: str) -> int:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, auth=(api_key, ""), timeout=30, verify=ssl_context)
            clients.append(client)
        response = client.get(path)
        response.raise_for_status()
        if renditions:
            _encode_renditions(response.content)
        return len(response.content)

    cpu = _own_cpu_seconds()
    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        total = sum(pool.map(get, paths))
    elapsed = time.perf_counter() - started
    cpu = _own_cpu_seconds() - cpu
    for client in clients:
        client.close()
    assert total > 0
    return elapsed, cpu


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed_sync(store, production: bool):
    """(seconds, finished run): on the workers through the queue, or in this process."""
    from photosync.imagesync.runner import start_image_sync, sync_images_now
    from photosync.models import ImageSyncRun

    started = time.perf_counter()
    if not production:
        run = sync_images_now(store)
        return time.perf_counter() - started, run
    run = start_image_sync(store)
    while ImageSyncRun.objects.filter(pk=run.pk, status__in=["queued", "running"]).exists():
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    run.refresh_from_db()
    return elapsed, run


def _forget_photos(settings) -> None:
    """Back to a store without photos, for another full sync."""
    from photosync.models import ImageSyncRun, ProductPhoto

    ProductPhoto.objects.all().delete()
    ImageSyncRun.objects.all().delete()
    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


def _load() -> float:
    return os.getloadavg()[0]


def _project_round(store, production: bool, workers, control) -> dict:
    cpu = _cpu_seconds(workers.pid) if workers else 0.0
    control.post("/reset_stats")
    seconds, run = _timed_sync(store, production)
    cpu = (_cpu_seconds(workers.pid) if workers else 0.0) - cpu
    assert run.status == "succeeded", run.message
    return {"seconds": seconds, "cpu": cpu, "run": run, "stats": control.get("/stats").json()}


def _measure_rounds(store, production: bool, workers, control, url: str, paths: list[str], settings) -> list[dict]:
    """ROUNDS rounds of the baseline and the full sync, in the same minutes; the side that goes
    first alternates. Each round starts from a store without photos."""
    from photosync.models import ProductPhoto
    from shopsim import DEMO_API_KEY

    rounds = []
    for number in range(ROUNDS):
        _forget_photos(settings)
        measured = {"load_before": _load()}
        for side in ("baseline", "project") if number % 2 == 0 else ("project", "baseline"):
            if side == "baseline":
                measured["baseline"], measured["baseline_cpu"] = _baseline(url, DEMO_API_KEY, paths)
                _, measured["same_work_cpu"] = _baseline(url, DEMO_API_KEY, paths, renditions=True)
            else:
                measured["project"] = _project_round(store, production, workers, control)
                assert ProductPhoto.objects.filter(store=store).count() == PRODUCTS
        measured["load_after"] = _load()
        rounds.append(measured)
    return rounds


def main() -> None:
    kind, production = _configure()
    import httpx
    from django.conf import settings

    from catalog.models import Platform, Store
    from catalog.services import import_products_now
    from shopsim import DEMO_API_KEY

    simulator, url = _start_simulator()
    workers = _start_workers() if production else None
    control = httpx.Client(base_url=f"{url}/_sim", timeout=30)
    try:
        store = Store.objects.create(
            code="bench", name="Bench", platform=Platform.PRESTASHOP, platform_url=url, platform_api_key=DEMO_API_KEY
        )
        assert import_products_now(store).status == "succeeded"
        # The URLs a sync downloads: each product's default image.
        covers = {pid: control.get(f"/products/{pid}").json()["images"] for pid in range(1, PRODUCTS + 1)}
        paths = [f"/api/images/products/{pid}/{images[0]['id']}" for pid, images in covers.items() if images]
        _baseline(url, DEMO_API_KEY, paths)  # warm-up: the simulator draws each image once, then caches it
        control.post("/config", json={"latency_ms": LATENCY_MS})

        rounds = _measure_rounds(store, production, workers, control, url, paths, settings)

        control.post("/reset_stats")
        load_before = _load()
        again_time, again = _timed_sync(store, production)
        again_load = (load_before, _load())
        again_stats = control.get("/stats").json()
        assert again.status == "succeeded", again.message

        embedded_time = None
        if production:  # the same full sync in one process, for information
            _forget_photos(settings)
            embedded_time, embedded = _timed_sync(store, production=False)
            assert embedded.status == "succeeded", embedded.message
    finally:
        control.close()
        if workers is not None:
            workers.terminate()
            workers.wait(timeout=30)
        simulator.terminate()
        simulator.wait(timeout=10)

    images = len(paths)
    where = (
        f"{WORKERS} Celery worker processes x {CONCURRENCY // WORKERS} downloads"
        if production
        else f"embedded mode, one process x {CONCURRENCY} downloads"
    )
    print(
        f"image sync: {PRODUCTS} products, {images} with an image, {LATENCY_MS:g} ms per request, "
        f"{kind}, file system storage, {ROUNDS} alternating rounds"
    )
    ratios, cpu_ratios = [], []
    for number, measured in enumerate(rounds, 1):
        project, baseline = measured["project"], measured["baseline"]
        ratio = project["seconds"] / baseline
        ratios.append(ratio)
        counters, stats = project["run"].counters, project["stats"]
        print(
            f"  round {number} (load {measured['load_before']:.1f} -> {measured['load_after']:.1f}): "
            f"full sync {project['seconds']:.2f} s, bare downloader {baseline:.2f} s, ratio {ratio:.2f}x  "
            f"[{counters['downloaded']} downloaded, {counters['fallback']} fallback, "
            f"{stats.get('image_bytes_sent', 0):,} image bytes, {stats['total']} requests]"
        )
        if project["cpu"]:
            cpu_ratio = project["cpu"] / measured["baseline_cpu"]
            cpu_ratios.append(cpu_ratio)
            same_work = measured["same_work_cpu"]
            print(
                f"           CPU per image: workers {project['cpu'] / images * 1000:.2f} ms, "
                f"baseline {measured['baseline_cpu'] / images * 1000:.2f} ms, ratio {cpu_ratio:.2f}x; "
                f"downloader + decode + WebP {same_work / images * 1000:.2f} ms, ratio {project['cpu'] / same_work:.2f}x"
            )
    ratio = statistics.median(ratios)
    full_time = statistics.median(measured["project"]["seconds"] for measured in rounds)
    share = again_time / full_time
    bytes_again = again_stats.get("image_bytes_sent", 0)
    print(f"  full sync ({where})")
    print(f"  ratio, median of rounds     {ratio:5.2f} x   (target <= 1.5x)  {'OK' if ratio <= 1.5 else 'MISSED'}")
    missed = ratio > 1.5
    if cpu_ratios:
        cpu_ratio = statistics.median(cpu_ratios)
        missed |= cpu_ratio > 2.5
        print(
            f"  CPU per image, median ratio {cpu_ratio:5.2f} x   (target <= 2.5x)  "
            f"{'OK' if cpu_ratio <= 2.5 else 'MISSED'}"
        )
    print(
        f"  unchanged re-sync           {again_time:5.2f} s   {share:.1%} of the median full sync "
        f"(target <= 10%)  {'OK' if share <= 0.10 else 'MISSED'}  (load {again_load[0]:.1f} -> {again_load[1]:.1f})"
    )
    print(
        f"  re-sync image bytes         {bytes_again:5d}     {again_stats['total']} requests, "
        f"{again_stats.get('image_get', 0)} image requests (target 0 bytes)  "
        f"{'OK' if bytes_again == 0 else 'MISSED'}"
    )
    if embedded_time is not None:
        print(
            f"  embedded mode full sync     {embedded_time:5.2f} s   one process x {CONCURRENCY} downloads "
            f"({embedded_time / statistics.median(m['baseline'] for m in rounds):.2f}x the median baseline; "
            "for information)"
        )
    if missed or share > 0.10 or bytes_again:
        sys.exit(1)


if __name__ == "__main__":
    main()
