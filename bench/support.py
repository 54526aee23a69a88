"""What every benchmark script needs: a fresh database, a free loopback port, the shop simulator."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def recreate_postgres_database(url: str) -> None:
    """Drop (forcing out sessions a killed run left) and create the database ``url`` names."""
    import psycopg2

    base, name = url.rsplit("/", 1)
    admin = psycopg2.connect(f"{base}/postgres", connect_timeout=5)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()


def fresh_database_url(postgres_url: str, workdir: str) -> tuple[str, str]:
    """A fresh PostgreSQL database if the server answers, else SQLite under ``workdir``."""
    try:
        recreate_postgres_database(postgres_url)
        return postgres_url, "PostgreSQL"
    except Exception:  # no server: the embedded default
        return f"sqlite:///{workdir}/bench.sqlite3", "SQLite"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
