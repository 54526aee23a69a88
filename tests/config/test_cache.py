import contextvars

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache


def _backend_of_a_new_request():
    """Django keeps a cache backend per context; under ASGI each request is one."""
    return contextvars.Context().run(lambda: caches["default"])


def test_the_backends_of_different_requests_share_one_redis_pool():
    first, second = _backend_of_a_new_request(), _backend_of_a_new_request()
    if not isinstance(first, RedisCache):
        pytest.skip("the cache is not Redis (embedded mode)")
    assert first is not second
    first.set("shared-pool-probe", 7, 30)
    pool = first._cache.get_client(write=True).connection_pool
    opened = len(pool._available_connections) + len(pool._in_use_connections)  # earlier tests' too: one pool
    assert second.get("shared-pool-probe") == 7
    assert second._cache.get_client().connection_pool is pool
    assert second._cache._get_connection_pool(write=True) is pool
    # The second request borrowed an open connection and gave it back: none opened, none held.
    assert len(pool._available_connections) + len(pool._in_use_connections) == opened
    assert not pool._in_use_connections
    second.delete("shared-pool-probe")
