"""The project as operators run it: deploy checks, and the ASGI server `make run` starts."""

import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from shopsim import run_in_thread
from tests.plugins.embedded import embedded_env as embedded_server_env
from tests.plugins.embedded import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]


def _run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def production_env(tmp_path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "SECURE_"))}
    env.update(
        DEBUG="false",
        SECRET_KEY="k9$Qm2#vX7!pL4@wR8^tY1&uI5*oP3(aS6)dF0_gH2+jK7=lZ9~xC4",
        REDIS_URL="redis://127.0.0.1:6379/15",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        ALLOWED_HOSTS="hub.example.com",
        VAR_DIR=str(tmp_path / "var"),
    )
    env.update(extra)
    return env


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    result = _run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_mode_refuses_to_start_without_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = _run_manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@contextmanager
def asgi_server(env: dict[str, str]):
    """uvicorn serving config.asgi as `make run` does; yields its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, server, lambda: "the ASGI server did not start", timeout=30)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def embedded_env(tmp_path, **extra: str) -> dict[str, str]:
    return embedded_server_env(tmp_path / "var", **extra)


def test_the_asgi_server_serves_the_api_and_the_admin(tmp_path):
    env = embedded_env(tmp_path)
    migrate = _run_manage("migrate", "--noinput", env=env)
    assert migrate.returncode == 0, migrate.stderr
    with asgi_server(env) as base:
        for page, asset in (
            ("docs", "swagger-ui-dist/swagger-ui-bundle.js"),
            ("redoc", "redoc/bundles/redoc.standalone.js"),
        ):
            html = httpx.get(f"{base}/api/{page}/")
            assert html.status_code == 200
            # The page's script is a static file of the hub (drf-spectacular-sidecar), served by whitenoise.
            script = f"/static/drf_spectacular_sidecar/{asset}"
            assert f'src="{script}"' in html.text
            assert httpx.get(f"{base}{script}").status_code == 200
        unauthenticated = httpx.get(f"{base}/api/v1/stores/")
        assert unauthenticated.status_code == 401 and unauthenticated.json()["code"] == "NOT_AUTHENTICATED"
        login = httpx.get(f"{base}/admin/login/")
        assert login.status_code == 200 and "csrfmiddlewaretoken" in login.text
        static = httpx.get(f"{base}/static/admin/css/base.css")
        assert static.status_code == 200


def _read_answer(sock: socket.socket) -> str:
    """The whole answer: its headers and body may arrive in separate reads."""
    received = b""
    while b"PAYLOAD_TOO_LARGE" not in received:
        data = sock.recv(65536)
        if not data:
            break
        received += data
    return received.decode()


def test_the_asgi_server_refuses_oversized_bodies_before_reading_them(tmp_path):
    limit = 64 * 1024
    with asgi_server(embedded_env(tmp_path, REQUEST_MAX_BODY_BYTES=str(limit))) as base:
        # Declared too large: refused from the header, long before a 1 GB body could arrive.
        with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=10) as sock:
            sock.sendall(
                b"POST /api/v1/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
            )
            answer = _read_answer(sock)
        assert answer.startswith("HTTP/1.1 413"), answer
        assert '"code": "PAYLOAD_TOO_LARGE"' in answer

        # No Content-Length (chunked): stopped once the body passes the limit.
        def chunks():
            for _ in range(64):
                yield b"y" * 16 * 1024

        streamed = httpx.post(f"{base}/api/v1/auth/token/", content=chunks(), timeout=10)
        assert streamed.status_code == 413
        assert streamed.json()["code"] == "PAYLOAD_TOO_LARGE"
        assert streamed.json()["detail"] == {"limit_bytes": limit}

        # Under the limit, the body reaches Django (here: a malformed login, 400).
        small = httpx.post(
            f"{base}/api/v1/auth/token/", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert small.status_code == 400


def test_slow_clients_do_not_hold_up_the_server(tmp_path):
    env = embedded_env(tmp_path)
    migrate = _run_manage("migrate", "--noinput", env=env)
    assert migrate.returncode == 0, migrate.stderr
    with asgi_server(env) as base:
        port = int(base.rsplit(":", 1)[1])
        slow = []
        try:
            for _ in range(20):
                # Half a request line and headers, then silence; and a body that never comes.
                trickle = socket.create_connection(("127.0.0.1", port), timeout=10)
                trickle.sendall(b"GET /api/v1/stores/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                stalled = socket.create_connection(("127.0.0.1", port), timeout=10)
                stalled.sendall(
                    b"POST /api/v1/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b'Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"user'
                )
                slow += [trickle, stalled]
            # A server that waited on the slow clients would answer none of these; the bound is
            # generous so that a loaded machine cannot fail the test.
            answers = [httpx.get(f"{base}/api/v1/stores/", timeout=30).status_code for _ in range(10)]
        finally:
            for sock in slow:
                sock.close()
        assert answers == [401] * 10


@pytest.mark.parametrize(
    "trigger_path",
    ["/api/v1/sync/sync-images?id_store={store}&async=true", "/api/v1/stores/{store}/sync/trigger"],
    ids=["sync-images", "store-sync"],
)
def test_racing_triggers_on_the_embedded_sqlite_get_202_or_409_never_500(tmp_path, trigger_path):
    """Two triggers at once on the default SQLite file, twelve times: each is queued (202) or
    refused (409); SQLite's deferred transactions answered 500 "database is locked"."""
    shop = run_in_thread("127.0.0.1", 0, products=2, customers=0, orders=0)
    env = embedded_env(tmp_path, PLATFORM_URL_ALLOWLIST="127.0.0.1")
    migrate = _run_manage("migrate", "--noinput", env=env)
    assert migrate.returncode == 0, migrate.stderr
    setup = _run_manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; from catalog.models import Store; "
        "from storesync.services import configure_sync; "
        "get_user_model().objects.create_superuser('root', 'root@example.com', 'race-pass-123'); "
        f"store = Store.objects.create(code='race', name='Race', platform='prestashop', platform_url='{shop.url}', "
        f"platform_api_key='{shop.api_key}'); "
        "configure_sync(store, sync_frequency='manual', entities=[{'type': 'products'}]); print(store.pk)",
        env=env,
    )
    assert setup.returncode == 0, setup.stderr
    path = trigger_path.format(store=setup.stdout.split()[-1])
    racers = 2
    start_line = threading.Barrier(racers)
    try:
        with asgi_server(env) as base, httpx.Client(base_url=base, timeout=60) as client:
            token = client.post("/api/v1/auth/token/", json={"username": "root", "password": "race-pass-123"})
            headers = {"Authorization": f"Bearer {token.json()['access']}"}

            def trigger(_) -> httpx.Response:
                start_line.wait(timeout=30)
                return client.post(path, headers=headers, json={})

            with ThreadPoolExecutor(racers) as pool:
                for _ in range(12):
                    for answer in pool.map(trigger, range(racers)):
                        assert answer.status_code in (202, 409), answer.text
                        assert answer.status_code == 202 or answer.json()["code"] == "SYNC_IN_PROGRESS"
    finally:
        shop.shutdown()
