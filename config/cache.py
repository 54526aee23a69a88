"""Django's Redis cache with one connection pool per process, not one per request.

Django keeps a cache backend per context, and under ASGI every request is a context of its
own: with the stock backend each request built a client, a connection pool and a new TCP
connection to Redis (a connect and redis-py's handshake, then closed when collected). The
backend below hands every instance of a process the same pool and client for a server, so a
request borrows an open connection. redis-py's pools and clients are thread-safe, and a pool
used in a forked child (Celery's prefork workers) drops the parent's connections itself.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


class SharedPoolRedisCacheClient(RedisCacheClient):
    def _client_for(self, index: int):
        # The options hold classes and scalars: their repr tells configurations apart.
        key = (self._servers[index], self._pool_class, repr(sorted(self._pool_options.items())))
        client = _clients.get(key)
        if client is None:
            with _clients_lock:
                client = _clients.get(key)
                if client is None:
                    pool = self._pool_class.from_url(self._servers[index], **self._pool_options)
                    client = _clients[key] = self._client(connection_pool=pool)
        return client

    def _get_connection_pool(self, write):
        return self._client_for(self._get_connection_pool_index(write)).connection_pool

    def get_client(self, key=None, *, write=False):
        return self._client_for(self._get_connection_pool_index(write))


class SharedPoolRedisCache(RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` sharing its connections process-wide."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient
