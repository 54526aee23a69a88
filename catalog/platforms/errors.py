"""Typed errors raised by the e-commerce platform connectors.

Each error carries a machine ``code`` and the HTTP status an API should answer
with, so views can render the project's error envelope without knowing about
connectors. ``transient`` errors are worth retrying later; the others are not.
Messages never contain a shop's API key: every message goes through
:func:`redact` before it is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from catalog.error_codes import CatalogErrorCode
from config.error_codes import ErrorCode
from config.errors import DomainError

_WS_KEY_IN_URL = re.compile(r"(ws_key=)[^&\s]+", re.IGNORECASE)
REDACTED = "********"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove ``secrets`` and any ``ws_key=...`` query value from ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _WS_KEY_IN_URL.sub(rf"\g<1>{REDACTED}", text)


@dataclass(frozen=True)
class ShopError:
    """One ``<error>`` entry of a PrestaShop error envelope."""

    code: int | None
    message: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}" if self.code is not None else self.message


class PlatformError(DomainError):
    """Base class of every connector error."""

    code = CatalogErrorCode.PLATFORM_ERROR
    http_status = 502
    transient = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        shop_errors: Iterable[ShopError] = (),
        retry_after: float | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        secrets = tuple(secrets)
        self.shop_errors = tuple(ShopError(e.code, redact(e.message, secrets)) for e in shop_errors)
        if self.shop_errors:
            message = f"{message}: {'; '.join(str(e) for e in self.shop_errors)}"
        self.message = redact(message, secrets)
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(message=self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"

    @property
    def shop_error_codes(self) -> frozenset[int]:
        return frozenset(e.code for e in self.shop_errors if e.code is not None)


class PlatformNotConfigured(PlatformError):
    code = CatalogErrorCode.PLATFORM_NOT_CONFIGURED
    http_status = 400


class PlatformUnsupported(PlatformError):
    code = CatalogErrorCode.PLATFORM_UNSUPPORTED
    http_status = 400


class UnsafeURLError(PlatformError):
    code = CatalogErrorCode.UNSAFE_URL
    http_status = 400


class PlatformAuthError(PlatformError):
    code = CatalogErrorCode.PLATFORM_AUTH_FAILED


class PlatformNotFound(PlatformError):
    code = CatalogErrorCode.PLATFORM_NOT_FOUND


class PlatformRateLimited(PlatformError):
    code = ErrorCode.RATE_LIMIT_EXCEEDED
    transient = True


class PlatformTimeout(PlatformError):
    code = ErrorCode.SYNC_TIMEOUT
    transient = True


class PlatformNetworkError(PlatformError):
    code = ErrorCode.NETWORK_ERROR
    transient = True


class PlatformServerError(PlatformError):
    code = CatalogErrorCode.PLATFORM_SERVER_ERROR
    transient = True


class PlatformBadResponse(PlatformError):
    """The shop answered something that is not the webservice speaking (HTML, garbage)."""

    code = ErrorCode.INVALID_DATA_FORMAT


class PlatformValidationError(PlatformError):
    """The shop refused the request (HTTP 400 and other client errors)."""

    code = ErrorCode.INVALID_DATA_FORMAT


class ImageTooLarge(PlatformError):
    code = CatalogErrorCode.IMAGE_TOO_LARGE


class PartialCreate(PlatformError):
    """The shop created the record, then a follow-up write failed (a product's stock row).

    The record exists in the shop: ``created`` is it as the shop holds it, ``unwritten`` the
    values (hub field names) that did not reach it. Creating it again would duplicate it.
    """

    def __init__(self, cause: PlatformError, *, created: Any, unwritten: Mapping[str, Any]) -> None:
        super().__init__(cause.message, status_code=cause.status_code, retry_after=cause.retry_after)
        self.code = cause.code
        self.transient = cause.transient
        self.shop_errors = cause.shop_errors
        self.created = created
        self.unwritten = dict(unwritten)
