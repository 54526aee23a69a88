"""The edge's HTTP client for head office: JWT login and refresh, retries with backoff.

One client is shared by the agent's download threads (httpx's client is thread-safe);
tokens are renewed under a lock, once for all the threads that saw them expire.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import httpx
from django.conf import settings

from config.jobs.backoff import backoff_delay

logger = logging.getLogger(__name__)

TRANSIENT_STATUSES = {429, 500, 502, 503, 504}


class HOError(Exception):
    """Head office answered something the agent cannot use (or could not be reached)."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False):
        super().__init__(message)
        self.status = status
        self.transient = transient


@dataclass(frozen=True)
class HOConfig:
    url: str
    username: str
    password: str
    store_id: str

    @classmethod
    def from_settings(cls) -> HOConfig:
        missing = [
            name for name in ("HO_URL", "HO_USERNAME", "HO_PASSWORD", "HO_STORE_ID") if not getattr(settings, name, "")
        ]
        if missing:
            raise HOError(f"edge mode needs {', '.join(missing)}")
        return cls(settings.HO_URL.rstrip("/"), settings.HO_USERNAME, settings.HO_PASSWORD, str(settings.HO_STORE_ID))


# Retry n (1 for the first) waits EDGE_RETRY_BACKOFF * 2**(n-1) seconds times 0.5 to 1.
RETRY_JITTER = (0.5, 1.0)


def retry_delay(attempt: int) -> float:
    """Seconds before retrying after failed attempt number ``attempt`` (0 for the first attempt)."""
    return backoff_delay(attempt + 1, base=settings.EDGE_RETRY_BACKOFF, jitter=RETRY_JITTER)


class HOClient:
    def __init__(self, config: HOConfig, *, max_connections: int | None = None):
        self.config = config
        connections = max_connections or settings.EDGE_SYNC_CONCURRENCY + 2
        self.http = httpx.Client(
            base_url=config.url.rstrip("/"),
            timeout=httpx.Timeout(settings.EDGE_HTTP_TIMEOUT, connect=min(10.0, settings.EDGE_HTTP_TIMEOUT)),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            headers={"User-Agent": "retail-sync-hub-edge"},
        )
        self.retries = settings.EDGE_HTTP_RETRIES
        self._lock = threading.Lock()
        self._access: str | None = None
        self._refresh: str | None = None
        self._generation = 0
        self.logins = 0
        self.refreshes = 0

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> HOClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # Tokens

    def _token(self) -> tuple[int, str]:
        with self._lock:
            if self._access is None:
                self._login()
            return self._generation, self._access

    def _login(self) -> None:
        body = {"username": self.config.username, "password": self.config.password}
        response = self._post_auth("/api/v1/auth/token/", body)
        if response.status_code != 200:
            raise HOError(
                f"head office refused the login of {self.config.username!r} ({response.status_code})",
                status=response.status_code,
            )
        tokens = response.json()
        self._access, self._refresh = tokens["access"], tokens["refresh"]
        self._generation += 1
        self.logins += 1

    def _renew(self, generation: int) -> None:
        """The access token expired: refresh it (log in again if the refresh token expired too)."""
        with self._lock:
            if generation != self._generation:
                return  # another thread renewed it already
            if self._refresh:
                response = self._post_auth("/api/v1/auth/token/refresh/", {"refresh": self._refresh})
                if response.status_code == 200:
                    self._access = response.json()["access"]
                    self._refresh = response.json().get("refresh", self._refresh)
                    self._generation += 1
                    self.refreshes += 1
                    return
            self._login()

    def _post_auth(self, path: str, body: dict) -> httpx.Response:
        for attempt in range(self.retries + 1):
            try:
                response = self.http.post(path, json=body)
            except httpx.TransportError as exc:
                self._wait(attempt, f"POST {path}: {exc}")
                continue
            if response.status_code not in TRANSIENT_STATUSES:
                return response
            self._wait(attempt, f"POST {path}: {response.status_code}")
        raise HOError(f"head office could not be reached ({path}, {self.retries + 1} attempts)", transient=True)

    def _wait(self, attempt: int, what: str) -> None:
        if attempt >= self.retries:
            return
        delay = retry_delay(attempt)
        logger.info("transient head office error (%s); retrying in %.2fs", what, delay)
        time.sleep(delay)

    # Requests

    def send(
        self, method: str, path: str, *, stream: bool = False, headers: dict | None = None, **kwargs
    ) -> httpx.Response:
        """A request with the bearer token; renews an expired token once and retries
        transient failures (connection errors, 429 and 5xx) with backoff. With ``stream``
        the caller closes the response."""
        renewed = False
        last = "no attempt"
        attempt = 0
        while attempt <= self.retries:
            generation, token = self._token()
            request = self.http.build_request(
                method, path, headers={**(headers or {}), "Authorization": f"Bearer {token}"}, **kwargs
            )
            try:
                response = self.http.send(request, stream=stream)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                self._wait(attempt, f"{method} {path}: {last}")
                attempt += 1
                continue
            if response.status_code == 401 and not renewed:
                response.close()
                renewed = True
                self._renew(generation)
                continue
            if response.status_code in TRANSIENT_STATUSES:
                response.close()
                last = f"HTTP {response.status_code}"
                self._wait(attempt, f"{method} {path}: {last}")
                attempt += 1
                continue
            return response
        raise HOError(f"{method} {path} failed after {self.retries + 1} attempts ({last})", transient=True)

    def json(self, method: str, path: str, **kwargs) -> dict:
        response = self.send(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200:
            message = body.get("message") if isinstance(body, dict) else None
            raise HOError(
                f"{method} {path}: {response.status_code} {message or response.text[:200]}", status=response.status_code
            )
        return body

    # The photo distribution API

    def list_photos(self, *, since: str | None, cursor: str | None, limit: int) -> dict:
        params = {"store_id": self.config.store_id, "limit": limit}
        if since:
            params["since"] = since
        if cursor:
            params["cursor"] = cursor
        return self.json("GET", "/api/v1/sync/product-photos/", params=params)["data"]

    def open_download(self, photo_id: str, headers: dict | None = None) -> httpx.Response:
        return self.send(
            "GET",
            f"/api/v1/sync/product-photos/{photo_id}/download/",
            params={"store_id": self.config.store_id},
            headers=headers,
            stream=True,
        )

    def report_status(self, items: list[dict]) -> None:
        self.json(
            "POST", "/api/v1/sync/product-photos/status/", json={"store_id": self.config.store_id, "sync_batch": items}
        )
