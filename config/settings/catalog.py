"""Catalog: the e-commerce platform clients (URL allowlist, timeouts, retries, image size cap)."""

from config.settings.base import env

PLATFORM_URL_ALLOWLIST = env.list("PLATFORM_URL_ALLOWLIST", default=[])
PLATFORM_TIMEOUT = env.float("PLATFORM_TIMEOUT", default=10.0)
PLATFORM_RETRY_ATTEMPTS = env.int("PLATFORM_RETRY_ATTEMPTS", default=4)
PLATFORM_RETRY_BACKOFF = env.float("PLATFORM_RETRY_BACKOFF", default=0.5)
PLATFORM_MAX_IMAGE_BYTES = env.int("PLATFORM_MAX_IMAGE_BYTES", default=20 * 1024 * 1024)
