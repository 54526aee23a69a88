"""Throttles whose rates are read from ``settings.API_THROTTLE_RATES`` at request time.

On Redis (production mode) a throttle costs one round trip: a Lua script keeps the window
as a sorted set of the accepted requests' times, drops the expired ones, and either adds
this request or answers how long until the oldest leaves the window. The semantics are
DRF's (at most N accepted requests in any window of the rate's length; refused requests
do not count), without DRF's read and rewrite of the whole history per request. Other
caches (the embedded mode's local memory) keep DRF's own implementation.
"""

import hashlib
import logging
import uuid

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.commands.core import Script
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)

# KEYS[1]: the window; ARGV: the limit, the window's length (ms), a unique member.
# Returns 0 if the request is accepted, else the milliseconds until a slot frees.
# Redis' own clock (TIME) times every request, whichever process sends it.
SLIDING_WINDOW_LUA = b"""
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], window)
    return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""
# Sends EVALSHA, loading the script into a Redis server the first time it is missing there.
SLIDING_WINDOW = Script(None, SLIDING_WINDOW_LUA)


class SettingsRateMixin:
    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        """Let the request through when the cache (Redis) is down: the API keeps answering."""
        try:
            backend = caches["default"]
            if isinstance(backend, RedisCache):
                return self._allow_in_redis(backend, request, view)
            return super().allow_request(request, view)
        except (redis.RedisError, OSError) as exc:
            logger.warning("throttle %s skipped: its cache is unavailable (%s)", self.scope, type(exc).__name__)
            return True

    def _allow_in_redis(self, backend: RedisCache, request, view) -> bool:
        self._wait_ms = 0
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        # A key of its own: DRF's history list (a string) may still sit under the plain one.
        key = backend.make_key(f"{key}:window")
        client = backend._cache.get_client(key, write=True)
        self._wait_ms = SLIDING_WINDOW(
            keys=[key], args=[self.num_requests, int(self.duration * 1000), uuid.uuid4().hex], client=client
        )
        return self._wait_ms == 0

    def wait(self):
        if hasattr(self, "_wait_ms"):
            return self._wait_ms / 1000 if self._wait_ms else None
        return super().wait()


class AnonThrottle(SettingsRateMixin, AnonRateThrottle):
    pass


class UserThrottle(SettingsRateMixin, UserRateThrottle):
    pass


class LoginAddressThrottle(SettingsRateMixin, SimpleRateThrottle):
    """Token requests per client address, whatever the user name."""

    scope = "login_address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginUserThrottle(SettingsRateMixin, SimpleRateThrottle):
    """Token requests per client address and user name: password guessing on one account."""

    scope = "login_user"

    def get_cache_key(self, request, view):
        data = request.data if hasattr(request, "data") else request.POST  # DRF's request, or the admin's
        username = str(data.get("username", "")).strip().lower() if hasattr(data, "get") else ""
        digest = hashlib.sha256(username.encode()).hexdigest()[:32]  # any user name makes a safe cache key
        return self.cache_format % {"scope": self.scope, "ident": f"{self.get_ident(request)}:{digest}"}


LOGIN_THROTTLES = (LoginAddressThrottle, LoginUserThrottle)


def login_wait(request) -> float | None:
    """Seconds to wait if a login attempt (API or admin) is over a login throttle, else None."""
    throttles = [cls() for cls in LOGIN_THROTTLES]
    waits = [throttle.wait() or 1 for throttle in throttles if not throttle.allow_request(request, None)]
    return max(waits, default=None)
