"""The API docs (Swagger UI at /api/docs/, ReDoc at /api/redoc/) render with the network cut:
every script, style sheet and font comes from the hub itself (drf-spectacular-sidecar), none
from a CDN. Any request to another host is aborted and recorded, and the test fails on it."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest


@pytest.fixture
def offline(console):
    """The console's page with every request to a host other than the live server's aborted."""
    local = urlsplit(console.base_url).netloc
    attempted: list[str] = []

    def route(route):
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort("internetdisconnected")

    console.page.route("**/*", route)
    console.attempted = attempted
    return console


def test_swagger_ui_renders_the_operations_offline(offline):
    offline.goto("/api/docs/")
    offline.page.wait_for_load_state("networkidle")
    offline.snap("swagger ui")
    assert offline.attempted == []
    offline.page.wait_for_selector(".opblock")
    assert offline.page.locator(".opblock").count() > 20  # every operation, from the local schema
    assert offline.page.locator(".opblock-summary-path", has_text="/api/v1/stores/").count() >= 1


def test_redoc_renders_the_operations_offline(offline):
    offline.goto("/api/redoc/")
    offline.page.wait_for_load_state("networkidle")
    offline.snap("redoc")
    assert offline.attempted == []
    offline.page.wait_for_selector('[data-section-id^="operation/"]', timeout=60_000)
    assert offline.page.locator("h1", has_text="Retail Sync Hub API").count() == 1
    assert offline.page.locator('[data-section-id^="operation/"]').count() > 20
