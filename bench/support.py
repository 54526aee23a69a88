"""What every benchmark script needs: a fresh database and a free loopback port."""

from __future__ import annotations

import socket


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
