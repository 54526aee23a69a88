"""Throttles whose rates are read from ``settings.API_THROTTLE_RATES`` at request time."""

import hashlib
import logging

import redis
from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class SettingsRateMixin:
    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        """Let the request through when the cache (Redis) is down: the API keeps answering."""
        try:
            return super().allow_request(request, view)
        except (redis.RedisError, OSError) as exc:
            logger.warning("throttle %s skipped: its cache is unavailable (%s)", self.scope, type(exc).__name__)
            return True


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
