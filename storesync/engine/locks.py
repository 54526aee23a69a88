"""One lock per store for the writers of its sync state: a batch of the engine (from its
merge to its database commit, shop writes included) and a conflict resolution.

On PostgreSQL a session-level advisory lock, released with the connection if the process
dies. Elsewhere (the embedded SQLite mode, one process) nothing is needed: SQLite runs one
writer at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


def _key(store_id: int) -> int:
    digest = hashlib.blake2b(f"storesync:{store_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def store_lock(store_id: int) -> Iterator[None]:
    if connection.vendor != "postgresql":
        yield
        return
    key = _key(store_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
