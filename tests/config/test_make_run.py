"""`make run` as a developer types it: the URLs it hands out use the port it serves, and its logs
never show a WebSocket's access token (uvicorn runs on config/uvicorn_log.json in every mode)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets

from shopsim import run_in_thread
from tests.plugins.embedded import embedded_env, make_run, manage

PASSWORD = "make-run-Pass-123"


@pytest.fixture
def served(tmp_path):
    """`make run` on a free port in a fresh embedded hub with a superuser and a shop simulator."""
    shop = run_in_thread("127.0.0.1", 0, products=2, customers=0, orders=0)
    env = embedded_env(tmp_path / "var")
    manage("migrate", "--noinput", env=env)
    manage(
        "createsuperuser",
        "--noinput",
        "--username",
        "root",
        "--email",
        "root@example.com",
        env={**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )
    try:
        with make_run(env, tmp_path / "make-run.log") as server:
            server.shop = shop
            yield server
    finally:
        shop.shutdown()


def login(client: httpx.Client) -> str:
    answer = client.post("/api/v1/auth/token/", json={"username": "root", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return answer.json()["access"]


def create_store(client: httpx.Client, served) -> int:
    store = client.post(
        "/api/v1/stores/",
        json={
            "name": "Port",
            "code": "port",
            "platform": "prestashop",
            "platform_url": served.shop.url,
            "platform_api_key": served.shop.api_key,
        },
    )
    assert store.status_code == 201, store.text
    return store.json()["id"]


def test_make_run_hands_out_urls_of_the_port_it_serves(served):
    with httpx.Client(base_url=served.base_url, timeout=60) as client:
        client.headers["Authorization"] = f"Bearer {login(client)}"
        configured = client.post(
            f"/api/v1/stores/{create_store(client, served)}/sync/configure",
            json={"sync_frequency": "manual", "entities": [{"type": "products"}]},
        )
        assert configured.status_code == 200, configured.text
    urls = configured.json()["data"]["webhook_urls"]
    assert urls and all(url.startswith(f"http://127.0.0.1:{served.port}/api/v1/webhooks/") for url in urls), urls


def test_make_run_never_logs_a_websocket_token(served):
    with httpx.Client(base_url=served.base_url, timeout=60) as client:
        token = login(client)

    async def open_stream():
        url = f"ws://127.0.0.1:{served.port}/api/v1/stores/1/sync/events/stream?token={token}"
        try:
            async with websockets.connect(url, open_timeout=20) as socket:
                await socket.close()
        except websockets.InvalidStatus:
            pass  # no store 1: refused at the handshake, which uvicorn logs all the same

    asyncio.run(open_stream())
    with httpx.Client(base_url=served.base_url, timeout=10) as client:
        client.get("/healthz")  # one more access line, after the handshake's
    log = served.log()
    assert "/sync/events/stream?token=********" in log, log[-2000:]
    assert token not in log
    assert token.split(".")[2] not in log  # not even the signature alone


def test_make_run_streams_events_uncompressed(served):
    """The stream's messages are a few hundred bytes: compressing them per client cost more
    CPU than it saved bytes (docs/store-sync-realtime.md), so uvicorn does not offer it."""
    with httpx.Client(base_url=served.base_url, timeout=60) as client:
        token = login(client)
        client.headers["Authorization"] = f"Bearer {token}"
        store_id = create_store(client, served)

    async def handshake_extensions():
        url = f"ws://127.0.0.1:{served.port}/api/v1/stores/{store_id}/sync/events/stream?token={token}"
        async with websockets.connect(url, open_timeout=20) as socket:
            assert "permessage-deflate" in socket.request.headers["Sec-WebSocket-Extensions"]  # asked for
            return socket.response.headers.get("Sec-WebSocket-Extensions")

    assert asyncio.run(handshake_extensions()) is None
