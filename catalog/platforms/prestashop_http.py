"""The HTTP session with one shop's webservice: authentication, retries, and
turning every answer into data or a typed :mod:`~catalog.platforms.errors` error.

The key travels as the HTTP Basic user name (never in a URL, so never in a
log). Transient failures (timeouts, network errors, 5xx, 429) are retried with
exponential backoff and jitter, or after the server's ``Retry-After``; only
idempotent requests are retried, so never a POST.
"""

from __future__ import annotations

import email.utils
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, BinaryIO

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from config.jobs.backoff import backoff_delay

from . import prestashop_xml as psxml
from .errors import (
    ImageTooLarge,
    PlatformAuthError,
    PlatformBadResponse,
    PlatformError,
    PlatformNetworkError,
    PlatformNotFound,
    PlatformRateLimited,
    PlatformServerError,
    PlatformTimeout,
    PlatformValidationError,
)
from .urlguard import guarded_client

logger = logging.getLogger(__name__)

RETRY_AFTER_CAP = 30.0
STREAM_CHUNK_SIZE = 64 * 1024
# Shop error codes that mean "no such thing": 57 unknown image id, 59/61 image
# file missing on disk, 87/92 unknown ids, 131 not in this shop.
NOT_FOUND_CODES = frozenset({57, 59, 61, 87, 92, 131})


class Webservice:
    """Requests to ``api_root`` (``https://shop/api/``) through the URL guard."""

    def __init__(self, api_root: str, api_key: str, *, timeout: float, attempts: int, backoff: float) -> None:
        self._api_key = api_key
        self.version: tuple[int, ...] | None = None  # the shop's PSWS-Version, once it has answered
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._client = guarded_client(
            base_url=api_root, auth=httpx.BasicAuth(api_key, ""), timeout=timeout, follow_redirects=True
        )

    def close(self) -> None:
        self._client.close()

    # Typed reads and writes

    def get_list(self, resource: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """The rows of a JSON list; PrestaShop's empty list is a bare ``[]``."""
        data = self.json(self.request("GET", resource, params={**params, "output_format": "JSON"}))
        if data in ([], {}):
            return []
        rows = data.get(resource) if isinstance(data, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) and str(r.get("id", "")).isdigit() for r in rows):
            raise PlatformBadResponse(f"The shop's {resource} list has an unexpected shape")
        return rows

    def get_xml(self, path: str, params: Mapping[str, str] | None = None) -> ET.Element:
        return self.xml(self.request("GET", path, params=params))

    def send_xml(self, method: str, path: str, root: ET.Element) -> ET.Element:
        """PUT or PATCH (retried: idempotent) or POST (never retried) a document; returns the answer."""
        content = psxml.to_bytes(root)
        headers = {"Content-Type": "text/xml"}
        return self.xml(self.request(method, path, content=content, headers=headers, retry=method != "POST"))

    def json(self, response: httpx.Response) -> Any:
        if _looks_like_markup(response):
            raise self.error(PlatformBadResponse, "The shop answered with HTML or XML instead of JSON", response)
        try:
            return response.json()
        except ValueError:
            raise self.error(PlatformBadResponse, "The shop's answer is not valid JSON", response) from None

    def xml(self, response: httpx.Response) -> ET.Element:
        try:
            root = psxml.parse(response.content)
        except ET.ParseError:
            root = None
        if root is None or root.tag != "prestashop":
            raise self.error(PlatformBadResponse, "The shop's answer is not a webservice XML document", response)
        return root

    def stream_into(self, response: httpx.Response, dest: BinaryIO, max_bytes: int) -> int:
        """Copy a streamed body into ``dest``; :class:`ImageTooLarge` past ``max_bytes``."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise self.error(ImageTooLarge, f"The body is {declared} bytes, over the {max_bytes}-byte limit", response)
        size = 0
        with self._transport_errors(response.request):
            for chunk in response.iter_bytes(STREAM_CHUNK_SIZE):
                size += len(chunk)
                if size > max_bytes:
                    raise self.error(ImageTooLarge, f"The body exceeds the {max_bytes}-byte limit", response)
                dest.write(chunk)
        return size

    def error(self, cls: type[PlatformError], message: str, response: httpx.Response) -> PlatformError:
        """An error about ``response``, naming the request, with the key redacted."""
        where = f"{response.request.method} {response.request.url.path}"
        return cls(f"{message} ({where})", status_code=response.status_code, secrets=(self._api_key,))

    # Sending

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        retry: bool = True,
    ) -> httpx.Response:
        """Send a request, retrying transient failures; an answer of 400 or more raises.

        With ``stream=True`` the caller must close the response.
        """
        request = self._client.build_request(method, path, params=params, content=content, headers=headers)
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts if retry else 1),
            wait=self._retry_wait,
            retry=retry_if_exception(lambda exc: isinstance(exc, PlatformError) and exc.transient),
            before_sleep=_log_retry,
            reraise=True,
        )
        return retrying(self._send_once, request, stream)

    def _send_once(self, request: httpx.Request, stream: bool) -> httpx.Response:
        started = time.monotonic()
        with self._transport_errors(request):
            response = self._client.send(request, stream=stream)
        elapsed_ms = (time.monotonic() - started) * 1000
        if version := _version(response.headers.get("PSWS-Version", "")):
            self.version = version
        logger.debug(
            "%s %s -> %s in %.0f ms", request.method, request.url.raw_path.decode(), response.status_code, elapsed_ms
        )
        if response.status_code >= 400:
            with self._transport_errors(request):
                response.read()
            response.close()
            raise self._status_error(response)
        return response

    @contextmanager
    def _transport_errors(self, request: httpx.Request) -> Iterator[None]:
        """Turn httpx transport errors into platform errors."""
        where = f"{request.method} {request.url.path}"
        try:
            yield
        except httpx.TimeoutException:
            raise PlatformTimeout(f"The shop did not answer in time: {where}", secrets=(self._api_key,)) from None
        except httpx.TransportError as exc:
            message = f"Could not reach the shop: {where} ({exc})"
            raise PlatformNetworkError(message, secrets=(self._api_key,)) from None

    def _retry_wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter, or the server's ``Retry-After`` (capped)."""
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP)
        return backoff_delay(state.attempt_number, base=self._backoff)

    def _status_error(self, response: httpx.Response) -> PlatformError:
        status, where = response.status_code, f"{response.request.method} {response.request.url.path}"
        shop_errors = psxml.error_entries(response.content)
        codes = {e.code for e in shop_errors}
        cls: type[PlatformError]
        if status in (401, 403, 405):
            cls, message = PlatformAuthError, f"The shop refused the API key for {where} (HTTP {status})"
        elif status == 404 or codes & NOT_FOUND_CODES:
            cls, message = PlatformNotFound, f"Not found in the shop: {where} (HTTP {status})"
        elif status == 429:
            cls, message = PlatformRateLimited, f"The shop is rate limiting requests: {where}"
        elif status >= 500:
            cls, message = PlatformServerError, f"The shop failed on {where} (HTTP {status})"
        else:
            cls, message = PlatformValidationError, f"The shop rejected {where} (HTTP {status})"
        retry_after = _retry_after(response) if status in (429, 503) else None
        return cls(
            message, status_code=status, shop_errors=shop_errors, retry_after=retry_after, secrets=(self._api_key,)
        )


def _version(text: str) -> tuple[int, ...] | None:
    """``"8.1.7"`` -> ``(8, 1, 7)``; None for anything else."""
    parts = text.strip().split(".")
    return tuple(int(part) for part in parts) if all(part.isdigit() for part in parts) else None


def _looks_like_markup(response: httpx.Response) -> bool:
    return "html" in response.headers.get("Content-Type", "").lower() or response.content.lstrip()[:1] == b"<"


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds, given as seconds or as an HTTP date."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    logger.debug("Retrying after attempt %d failed: %s", state.attempt_number, error)
