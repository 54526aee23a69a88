"""The real services tests run against: PostgreSQL and Redis.

With ``CI=true`` a missing service fails the run; elsewhere tests that need it are skipped.
"""

import os

import pytest
from django.conf import settings
from django.db import connection

IN_CI = os.environ.get("CI", "").lower() == "true"


def redis_available() -> bool:
    import redis

    if not settings.REDIS_URL:
        return False
    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def require(condition: bool, what: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI and is not available", pytrace=False)
    pytest.skip(f"{what} is not available")


def require_postgres() -> None:
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")


def require_redis() -> None:
    require(redis_available(), "Redis (REDIS_URL)")


@pytest.fixture(scope="session", autouse=True)
def _ci_services():
    """In CI, the suite runs on PostgreSQL with Redis or not at all."""
    if IN_CI:
        if connection.vendor != "postgresql":
            pytest.exit("CI=true but the tests are not running on PostgreSQL (set DATABASE_URL)", returncode=3)
        if not redis_available():
            pytest.exit("CI=true but Redis is not reachable (set REDIS_URL)", returncode=3)
