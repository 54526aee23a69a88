"""What the benchmark scripts share: a fresh database, a free loopback port, a private Redis,
waiting for a server, the shop simulator."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def recreate_postgres_database(url: str) -> None:
    """Drop (forcing out sessions a killed run left) and create the database ``url`` names."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", connect_timeout=5, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def fresh_database_url(postgres_url: str, workdir: str) -> tuple[str, str]:
    """A fresh PostgreSQL database if the server answers, else SQLite under ``workdir``."""
    try:
        recreate_postgres_database(postgres_url)
        return postgres_url, "PostgreSQL"
    except Exception:  # no server: the embedded default
        return f"sqlite:///{workdir}/bench.sqlite3", "SQLite"


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and its children (Linux /proc; 0 elsewhere)."""
    total = 0.0
    try:
        pids = [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
        for one in pids:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def start_redis(workdir: str) -> tuple[subprocess.Popen | None, str]:
    """A private ``redis-server`` on a free port (or ``BENCH_REDIS_URL``): its process (None) and URL."""
    if os.environ.get("BENCH_REDIS_URL"):
        return None, os.environ["BENCH_REDIS_URL"]
    import redis

    server = shutil.which("redis-server")
    if not server:
        raise SystemExit("redis-server is not installed: set BENCH_REDIS_URL")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except redis.RedisError:
            time.sleep(0.05)
    raise SystemExit("the private redis-server did not start")


def start_simulator(products: int, *options: str, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """The shop simulator in its own process (a shop is another machine), without customers or
    orders unless ``options`` say so; returns the process and its base URL once it answers."""
    import httpx

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "shopsim", "--port", str(port), "--products", str(products)]
        + ["--customers", "0", "--orders", "0", *options],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            httpx.get(f"{url}/_sim/stats", timeout=1)
            return process, url
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit("the shop simulator did not start") from None
            time.sleep(0.2)


def change_both_sides(store, url: str, products: int, changed: int, conflicts: int, seed: int = 7) -> None:
    """``changed`` of the ``products`` changed in the shop (new prices), ``changed`` in the
    catalogue one second later (titles, and the price of ``conflicts`` products also changed in
    the shop); ``seed`` picks which."""
    import httpx
    from django.utils import timezone

    from catalog.models import Product

    rng = random.Random(seed)
    ids = rng.sample(range(1, products + 1), changed * 2 - conflicts)
    shop_ids, platform_only = ids[:changed], ids[changed:]
    both = shop_ids[:conflicts]
    httpx.post(f"{url}/_sim/mutate", json={"products": shop_ids}, timeout=120).raise_for_status()
    time.sleep(1.1)  # the platform's edits are the later ones, in a later second
    now = timezone.now()
    rows = {p.id_origin: p for p in Product.objects.filter(store=store, id_origin__in=both + platform_only)}
    for shop_id in both:
        rows[shop_id].price = rows[shop_id].price + 1
    for shop_id in platform_only:
        rows[shop_id].name = f"{rows[shop_id].name} (new)"
    for product in rows.values():
        product.updated_at = now
    Product.objects.bulk_update(list(rows.values()), ["price", "name", "updated_at"], batch_size=500)


@contextlib.contextmanager
def simulator_running(products: int, *options: str):
    """:func:`start_simulator` for a ``with`` block: its base URL, the process stopped after."""
    process, url = start_simulator(products, *options)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
