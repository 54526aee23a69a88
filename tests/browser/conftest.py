"""The operator console in a real headless Chromium (Debian's package, driven by Playwright's
sync API), against the app served by pytest-django's live server in a thread of this process.

Playwright's sync API parks an asyncio event loop in the test's thread, which Django's
async-safety check takes for async code; the test thread runs no async code, so the check is
switched off for the time of a browser test only (``DJANGO_ALLOW_ASYNC_UNSAFE``), and the
browser is started and stopped per test, leaving no loop behind for the other tests.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections

from catalog.models import Store
from catalog.services import import_products_now
from tests.plugins.services import require
from tests.plugins.worker import ARTIFACTS

CHROMIUM = os.environ.get("CHROMIUM_EXECUTABLE", "/usr/bin/chromium")
SCREENSHOTS = ARTIFACTS / "browser"
PASSWORD = "console-Pass-" + secrets.token_hex(6)


@pytest.fixture(autouse=True)
def _console_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The live server speaks plain HTTP: cookies marked Secure would not come back.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.STORESYNC_RETRY_BACKOFF = 0.01
    settings.STORESYNC_JOB_RETRY_BACKOFF = 0.01


@pytest.fixture
def known_secrets() -> list[str]:
    """Strings that must never appear on a page; tests append theirs (shop keys, webhook secrets)."""
    return [PASSWORD]


@pytest.fixture
def operator(transactional_db):
    """A superuser who logs in through the login form (its password is one of the secrets)."""
    return get_user_model().objects.create_superuser("operator", "operator@example.com", PASSWORD)


@pytest.fixture
def make_console_store(transactional_db, platform_settings, known_secrets):
    """``make_console_store(sim, code)``: a store on a simulated shop, its catalogue imported."""

    def make(sim, code: str) -> Store:
        store = Store.objects.create(
            code=code,
            name=f"Store {code.title()}",
            platform="prestashop",
            platform_url=sim.url,
            platform_api_key=sim.api_key,
        )
        known_secrets.append(sim.api_key)
        job = import_products_now(store)
        assert job.status == "succeeded", job.message
        return store

    return make


def shop_key() -> str:
    return secrets.token_hex(16).upper()


@dataclass
class Console:
    """A logged-out browser page on the live server; every ``snap`` keeps a screenshot and the
    page's HTML, which the fixture searches for the known secrets at the end of the test."""

    page: object
    base_url: str
    name: str
    pages: dict[str, str] = field(default_factory=dict)
    step: int = 0

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def snap(self, label: str) -> None:
        self.step += 1
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        self.page.screenshot(path=str(SCREENSHOTS / f"{self.name}-{self.step:02d}-{slug}.png"), full_page=True)
        self.pages[f"{self.step:02d} {label} ({self.page.url})"] = self.page.content()

    def login(self, username: str, password: str) -> None:
        self.goto("/admin/")
        assert "/admin/login/" in self.page.url
        self.snap("login form")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("#login-form [type=submit]")
        self.page.wait_for_url(lambda url: "/admin/login/" not in url)
        assert "/admin/login/" not in self.page.url, self.page.content()[:2000]
        self.snap("admin index")

    def dashboard(self, label: str = "dashboard") -> None:
        self.goto("/admin/dashboard/")
        self.snap(label)

    def cell(self, store_code: str, column: str):
        return self.page.locator(f'tr[data-store="{store_code}"] td[data-column="{column}"]')

    def run_action(self, action: str, *pks: int) -> str:
        """Select rows of the current change list and run an admin action; returns the page's text
        after the answer (the theme's messages are in the content)."""
        for pk in pks:
            self.page.check(f'input[name="_selected_action"][value="{pk}"]')
        self.page.select_option('select[name="action"]', action)
        with self.page.expect_navigation():
            self.page.click('button[name="index"]')
        return self.page.inner_text("body")

    def wait_for(self, condition: Callable[[], bool], *, timeout: float = 90, reload: bool = True) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out on {self.page.url}"
            time.sleep(0.5)
            if reload:
                self.page.reload()


@pytest.fixture
def console(request, live_server, transactional_db, monkeypatch, known_secrets) -> Iterator[Console]:
    require(os.access(CHROMIUM, os.X_OK), f"Chromium ({CHROMIUM}; make test-deps installs it)")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The live server's request threads live as long as the browser's keep-alive connections,
    # past the test: their database connections must close with each request.
    monkeypatch.setitem(connections.settings[DEFAULT_DB_ALIAS], "CONN_MAX_AGE", 0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"^test_", "", request.node.name)
    for old in SCREENSHOTS.glob(f"{name}-*.png"):
        old.unlink()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(30_000)
        page = context.new_page()
        console = Console(page, live_server.url, name)
        try:
            yield console
        finally:
            context.close()
            browser.close()
            # While Playwright's loop is parked here, Django keys connections by that context:
            # the test's queries used one of their own, which pytest-django would not close.
            connections.close_all()
    assert_no_secret(console.pages, known_secrets)


def assert_no_secret(pages: dict[str, str], known: list[str]) -> None:
    assert pages, "no page was visited"
    leaks = [(where, secret) for where, html in pages.items() for secret in known if secret and secret in html]
    assert not leaks, f"secrets shown on pages: {leaks}"


def screenshots_of(name: str) -> list[Path]:
    return sorted(SCREENSHOTS.glob(f"{name}-*.png"))
