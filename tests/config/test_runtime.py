"""The project as operators run it: deploy checks, and the ASGI server `make run` starts."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def test_the_asgi_server_serves_the_api_and_the_admin(tmp_path):
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL")}
    env["VAR_DIR"] = str(tmp_path / "var")
    migrate = _run_manage("migrate", "--noinput", env=env)
    assert migrate.returncode == 0, migrate.stderr
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                docs = httpx.get(f"{base}/api/docs/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("the ASGI server did not start")
                time.sleep(0.2)
        assert docs.status_code == 200
        unauthenticated = httpx.get(f"{base}/api/v1/stores/")
        assert unauthenticated.status_code == 401 and unauthenticated.json()["code"] == "NOT_AUTHENTICATED"
        login = httpx.get(f"{base}/admin/login/")
        assert login.status_code == 200 and "csrfmiddlewaretoken" in login.text
        static = httpx.get(f"{base}/static/admin/css/base.css")
        assert static.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
