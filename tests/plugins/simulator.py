"""Fixtures for tests that talk to a shop: a real PrestaShop-compatible simulator
serving over HTTP on 127.0.0.1 in a background thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from shopsim import SimulatorHandle, run_in_thread

__all__ = ["make_shop_simulator", "platform_settings", "shop_simulator", "sim_get", "sim_post", "sim_stats"]

# One client for the control API: building an httpx client loads the CA bundle (~50 ms).
_control = httpx.Client(timeout=30)


@pytest.fixture
def make_shop_simulator() -> Iterator[Callable[..., SimulatorHandle]]:
    """Factory: ``make_shop_simulator(products=250, latency_ms=5, ...)`` starts a simulator."""
    handles: list[SimulatorHandle] = []

    def make(**options: Any) -> SimulatorHandle:
        options.setdefault("products", 25)
        handle = run_in_thread("127.0.0.1", 0, **options)
        handles.append(handle)
        return handle

    yield make
    for handle in handles:
        handle.shutdown()


@pytest.fixture
def shop_simulator(make_shop_simulator: Callable[..., SimulatorHandle]) -> SimulatorHandle:
    """A fresh simulated shop with 25 products, 10 customers and 10 orders."""
    return make_shop_simulator()


@pytest.fixture
def platform_settings(settings: Any) -> Any:
    """Connector settings for loopback shops: allowlisted, quick retries."""
    settings.PLATFORM_URL_ALLOWLIST = ["127.0.0.1", "localhost", "::1"]
    settings.PLATFORM_RETRY_ATTEMPTS = 3
    settings.PLATFORM_RETRY_BACKOFF = 0.01
    settings.PLATFORM_TIMEOUT = 5.0
    return settings


def sim_get(sim: SimulatorHandle, path: str) -> Any:
    """GET from the simulator's control API, e.g. ``sim_get(sim, "products/3")``."""
    response = _control.get(f"{sim.url}/_sim/{path}")
    response.raise_for_status()
    return response.json()


def sim_stats(sim: SimulatorHandle) -> dict[str, Any]:
    """The simulator's request counters, read over HTTP."""
    return sim_get(sim, "stats")


def sim_post(sim: SimulatorHandle, path: str, payload: dict[str, Any] | None = None) -> Any:
    """POST to the simulator's control API (``path`` relative to ``/_sim/``)."""
    response = _control.post(f"{sim.url}/_sim/{path}", json=payload or {})
    response.raise_for_status()
    return response.json()
